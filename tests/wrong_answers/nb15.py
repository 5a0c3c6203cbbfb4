"""Plausible wrong answers for notebooks/15_capstone.ipynb (see tests/test_wrong_answers.py).

Together they cover the five classic mistakes of data-parallel code: no DistributedSampler, a missing
set_epoch, a checkpoint saved by every rank (ddp_train), a loss not scaled to the global batch and a batch
divided where it should be multiplied (mirrored_train); and two more: gradients averaged twice and an unused
seed (ddp_train). The checkpoint check counts the files each rank really wrote (every rank gets its own empty
folder), so a worker that reports "saved" for rank 0 only but saves on every rank fails too."""

_DDP = """
def ddp_train(rank, world_size, X, y, init_state, epochs, per_rank_batch, lr, seed, ckpt_dirs):
    device = rank_device()
    net = make_mlp()
    net.load_state_dict({k: torch.as_tensor(v) for k, v in init_state.items()})
    ddp = DDP(net.to(device))
    opt = torch.optim.SGD(ddp.parameters(), lr=lr)
    data = TensorDataset(torch.from_numpy(X), torch.from_numpy(y), torch.arange(len(X)))
    SAMPLER
    seen = []
    for epoch in range(epochs):
        SET_EPOCH
        seen.append([])
        for xb, yb, ib in loader:
            opt.zero_grad()
            LOSS
            loss.backward()
            opt.step()
            seen[-1] += ib.tolist()
    SAVE
    dist.barrier()
    weights = torch.cat([p.detach().cpu().flatten() for p in net.parameters()]).numpy()
    return {"weights": weights, "seen": seen}
"""
_RIGHT = {
    "SAMPLER": (
        "sampler = DistributedSampler(data, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)\n"
        "    loader = DataLoader(data, batch_size=per_rank_batch, sampler=sampler, drop_last=True)"
    ),
    "SET_EPOCH": "sampler.set_epoch(epoch)",
    "LOSS": "loss = torch.nn.functional.cross_entropy(ddp(xb.to(device)), yb.to(device))",
    "SAVE": ('if rank == 0:\n        torch.save(net.state_dict(), os.path.join(ckpt_dirs[rank], "mlp.pt"))'),
}


def _ddp(**changes: str) -> str:
    source = _DDP
    for key, right in _RIGHT.items():
        source = source.replace(key, changes.get(key, right))
    return source


def _mirrored(global_batch: str, loss: str) -> str:
    return f"""
def mirrored_train(X, y, init_weights, epochs, per_replica, lr, orders, devices):
    strategy = tf.distribute.MirroredStrategy(devices)
    global_batch = {global_batch}
    with strategy.scope():
        model = keras.Sequential(
            [keras.Input((784,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)]
        )
        model.set_weights(init_weights)
        optimizer = keras.optimizers.SGD(lr)

    def replica_step(xb, yb):
        with tf.GradientTape() as tape:
            logits = model(xb, training=True)
            per_example = keras.losses.sparse_categorical_crossentropy(yb, logits, from_logits=True)
            loss = {loss}
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))

    @tf.function
    def step(batch):
        strategy.run(replica_step, args=batch)

    for order in orders[:epochs]:
        ds = tf.data.Dataset.from_tensor_slices((X[order], y[order]))
        for batch in strategy.experimental_distribute_dataset(ds.batch(global_batch, drop_remainder=True)):
            step(batch)
    return model.get_weights()
"""


WRONG: dict[str, list[tuple[str, str]]] = {
    "ddp_train": [
        (
            "no DistributedSampler: the single-device DataLoader(shuffle=True) kept, every rank sees all data",
            _ddp(
                SAMPLER="loader = DataLoader(data, batch_size=per_rank_batch, shuffle=True, drop_last=True,\n"
                "                        generator=torch.Generator().manual_seed(seed))",
                SET_EPOCH="pass",
            ),
        ),
        ("the sampler is right but sampler.set_epoch(epoch) is missing", _ddp(SET_EPOCH="pass")),
        (
            "every rank saves the checkpoint (no rank-0 guard)",
            _ddp(SAVE='torch.save(net.state_dict(), os.path.join(ckpt_dirs[rank], "mlp.pt"))'),
        ),
        (
            "a 'saved' flag for rank 0 only, but torch.save on every rank",
            _ddp(
                SAVE="saved = rank == 0\n"
                '    torch.save(net.state_dict(), os.path.join(ckpt_dirs[rank], "mlp.pt"))'
            ),
        ),
        (
            "loss not scaled to the batch: the sum over the rank's samples instead of their mean",
            _ddp(
                LOSS="loss = torch.nn.functional.cross_entropy(ddp(xb.to(device)), yb.to(device), "
                'reduction="sum")'
            ),
        ),
        (
            "gradients averaged twice: the loss divided by the world size on top of DDP's mean",
            _ddp(
                LOSS="loss = torch.nn.functional.cross_entropy(ddp(xb.to(device)), yb.to(device)) / world_size"
            ),
        ),
        (
            "the seed argument unused: the sampler keeps its default seed",
            _ddp(
                SAMPLER="sampler = DistributedSampler(data, num_replicas=world_size, rank=rank, shuffle=True)\n"
                "    loader = DataLoader(data, batch_size=per_rank_batch, sampler=sampler, drop_last=True)"
            ),
        ),
        (
            "delegation: the given single-device program, with the shards and the save faked around it",
            """
def ddp_train(rank, world_size, X, y, init_state, epochs, per_rank_batch, lr, seed, ckpt_dirs):
    net = train_one_device(X, y, init_state, epochs, per_rank_batch * world_size, lr, seed)
    seen = [epoch_order(len(X), seed, e)[rank::world_size].tolist() for e in range(epochs)]
    if rank == 0:
        torch.save(net.state_dict(), os.path.join(ckpt_dirs[rank], "mlp.pt"))
    weights = torch.cat([p.detach().flatten() for p in net.parameters()]).numpy()
    return {"weights": weights, "seen": seen}
""",
        ),
    ],
    "mirrored_train": [
        (
            "loss not scaled to the global batch: the mean of the replica's own slice",
            _mirrored("per_replica * strategy.num_replicas_in_sync", "tf.reduce_mean(per_example)"),
        ),
        (
            "global batch = per-replica batch divided by the replicas",
            _mirrored(
                "per_replica // strategy.num_replicas_in_sync",
                "tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)",
            ),
        ),
        (
            "batched by the per-replica batch: forgets to multiply by the replicas",
            _mirrored("per_replica", "tf.nn.compute_average_loss(per_example)"),
        ),
        (
            "Keras fit under the strategy instead of a strategy.run step",
            """
def mirrored_train(X, y, init_weights, epochs, per_replica, lr, orders, devices):
    strategy = tf.distribute.MirroredStrategy(devices)
    with strategy.scope():
        model = keras.Sequential(
            [keras.Input((784,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)]
        )
        model.set_weights(init_weights)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(optimizer=keras.optimizers.SGD(lr), loss=loss)
    for order in orders[:epochs]:
        batch = per_replica * strategy.num_replicas_in_sync
        model.fit(X[order], y[order], batch_size=batch, epochs=1, shuffle=False, verbose=0)
    return model.get_weights()
""",
        ),
        (
            "delegation: the given single-device program, its weights turned into Keras's layout",
            """
def mirrored_train(X, y, init_weights, epochs, per_replica, lr, orders, devices):
    state = {k: w.T if k.endswith("weight") else w for k, w in zip(init_state, init_weights)}
    model = train_one_device(X, y, state, epochs, per_replica * len(devices), lr, SEED)
    return [p.detach().numpy().T if p.ndim == 2 else p.detach().numpy() for p in model.parameters()]
""",
        ),
    ],
}

# Every FAIL message names the lesson (the hint sends the learner back to its sections; a delegation message
# says "from the lesson").
HINT_WORDS: dict[str, list[str]] = {
    "ddp_train": ["lesson"],
    "mirrored_train": ["lesson"],
}
