"""DDP training as a torchrun script, with snapshots that make it survive a restart.

Taught in notebook 08. torchrun starts the processes and tells each one who it is through environment
variables (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT``,
``TORCHELASTIC_RESTART_COUNT``); the script never computes a rank itself (there is no
``dist.get_local_rank()``, erratum 11). One machine, two processes::

    torchrun --standalone --nproc-per-node=2 -m course_utils.torchrun_train --epochs 3 --snapshot build/snap.pt

Two machines (run once per machine; ``HOST0`` is an address of the first machine that the second can
reach - *not* ``localhost``)::

    torchrun --nnodes=2 --nproc-per-node=GPUS --node-rank=0|1 --rdzv-backend=c10d \\
             --rdzv-endpoint=HOST0:29500 --rdzv-id=job42 -m course_utils.torchrun_train ...

Fault tolerance: rank 0 saves a snapshot (model, optimizer, last finished epoch) after every epoch with
:func:`course_utils.train.save_checkpoint` - written to a temporary file and renamed, so a crash mid-write
never leaves a half-written snapshot. On start every rank loads the snapshot if there is one
(:func:`course_utils.train.load_checkpoint`: ``torch.load(..., weights_only=True)``, a snapshot is data,
never code - erratum 13) and continues with the next epoch. The training loop is notebook 05's
``train_epoch``/``evaluate``, unchanged. With ``--max-restarts=1`` torchrun restarts the whole group
when a worker dies; ``--fail-at-step K`` makes rank ``--fail-rank`` die at global step K *on the first
attempt only* (``TORCHELASTIC_RESTART_COUNT == 0``), to show it. Each epoch reseeds the RNG from
(seed, epoch, rank), so a resumed run computes exactly what an uninterrupted one would.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist

from .ddp import rank_device, rank_loaders, wrap_ddp
from .models import Net
from .train import evaluate, load_checkpoint, save_checkpoint, train_epoch

__all__ = ["parse_args", "Trainer", "main"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of the torchrun entry point."""
    p = argparse.ArgumentParser(prog="torchrun ... -m course_utils.torchrun_train", description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32, help="per process; global batch = this x WORLD_SIZE")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.5)
    p.add_argument("--n-train", type=int, default=None, help="first N training images (default: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--snapshot", type=Path, default=Path("build/snapshot.pt"))
    p.add_argument("--result", type=Path, default=None, help="rank 0 writes a JSON summary here")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads per process")
    p.add_argument("--fail-at-step", type=int, default=None, help="demo: crash at this global step (1st attempt)")
    p.add_argument("--fail-rank", type=int, default=1, help="which rank crashes for --fail-at-step")
    return p.parse_args(argv)


class Trainer:
    """The PyTorch tutorial's shape: ``_load_snapshot`` → ``_run_epoch`` per epoch → ``_save_snapshot``."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.local_rank = int(os.environ["LOCAL_RANK"])  # from torchrun, not computed
        self.restart = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
        self.device = rank_device(self.local_rank)
        _, self.loader, self.test_loader = rank_loaders(
            self.rank, self.world_size, args.batch_size, args.n_train, args.seed
        )
        torch.manual_seed(args.seed)
        model = Net().to(self.device)
        self.optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
        self.epochs_run = self._load_snapshot(model)
        self.model = wrap_ddp(model, self.device)
        self.step = self.epochs_run * len(self.loader)

    def log(self, msg: str) -> None:
        line = f"[rank {self.rank}/{self.world_size} local {self.local_rank} attempt {self.restart}] {msg}\n"
        # one write per line: print(msg) writes msg and "\n" separately, and with several ranks on one
        # unbuffered pipe another rank's text can land in between
        print(line, end="", flush=True)

    def _load_snapshot(self, model: torch.nn.Module) -> int:
        """Restore model and optimizer from the snapshot if there is one; return the epochs already done."""
        if not self.args.snapshot.is_file():
            return 0
        ckpt = load_checkpoint(self.args.snapshot, model, self.optimizer, map_location=self.device)
        self.log(f"resumed from snapshot {self.args.snapshot.name}: epochs 0..{ckpt['epoch']} already done")
        return int(ckpt["epoch"]) + 1

    def _save_snapshot(self, epoch: int) -> None:
        save_checkpoint(self.args.snapshot, self.model, self.optimizer, epoch=epoch)

    def _batches(self, epoch: int) -> Iterator:
        """The epoch's batches; ``--fail-at-step`` kills this process at that global step, first attempt only."""
        for batch in self.loader:
            self.step += 1
            if self.args.fail_at_step == self.step and self.rank == self.args.fail_rank and self.restart == 0:
                self.log(f"simulated crash at global step {self.step} (epoch {epoch})")
                sys.stdout.flush()
                os._exit(1)  # like a lost GPU or an OOM kill: no clean-up, no exception
            yield batch

    def _run_epoch(self, epoch: int) -> tuple[dict, dict]:
        self.loader.set_epoch(epoch)  # erratum 12: without it every epoch repeats the same order
        torch.manual_seed(self.args.seed + 1000 * epoch + self.rank)  # dropout: same masks after a resume
        train = train_epoch(self.model, self._batches(epoch), self.optimizer, self.device)
        return train, evaluate(self.model, self.test_loader, self.device)

    def train(self) -> dict | None:
        """Train the remaining epochs; rank 0 saves a snapshot after each; returns rank 0's summary."""
        summary = None
        t0 = time.perf_counter()
        for epoch in range(self.epochs_run, self.args.epochs):
            train, test = self._run_epoch(epoch)  # metrics are already summed over all ranks
            self.epochs_run = epoch + 1
            if self.rank == 0:
                self._save_snapshot(epoch)
                self.log(
                    f"epoch {epoch}: loss {train['loss']:.3f}, train acc {train['accuracy']:.3f}, "
                    f"test acc {test['accuracy']:.3f}; snapshot saved"
                )
                summary = {"epochs_run": self.epochs_run, "test_accuracy": test["accuracy"], "train_loss": train["loss"]}
        if summary is not None:
            summary.update(world_size=self.world_size, restart=self.restart, seconds=time.perf_counter() - t0)
        return summary


def main(argv: list[str] | None = None) -> None:
    """Entry point: read the rank from torchrun's environment, train, write the summary on rank 0."""
    args = parse_args(argv)
    if "LOCAL_RANK" not in os.environ:
        sys.exit("run me with torchrun, e.g. torchrun --standalone --nproc-per-node=2 -m course_utils.torchrun_train")
    if args.threads:
        torch.set_num_threads(args.threads)
    use_nccl = (
        torch.cuda.is_available()
        and os.environ.get("COURSE_DEVICE") != "cpu"
        and torch.cuda.device_count() >= int(os.environ["LOCAL_WORLD_SIZE"])
    )
    if use_nccl:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    dist.init_process_group("nccl" if use_nccl else "gloo", timeout=timedelta(seconds=60))  # env:// from torchrun
    trainer = Trainer(args)
    summary = trainer.train()
    if trainer.rank == 0:
        trainer.log(f"done: {summary}")
        if args.result is not None and summary is not None:
            args.result.parent.mkdir(parents=True, exist_ok=True)
            args.result.write_text(json.dumps(summary))
    # Leave together: without this barrier rank 1 exits while rank 0 still saves its snapshot, and a
    # process group whose peer has vanished can abort the survivor at shutdown. Drop DDP (its reducer
    # holds the group) before destroying the group.
    dist.barrier()
    del trainer
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
