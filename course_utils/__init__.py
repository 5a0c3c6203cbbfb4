"""Helpers for the distributed deep learning notebook course (import the module you need).

Foundation (notebook 00 and everywhere)
    data        IDX reader/writer, ``load_mnist`` (04)          devices   inventory, ``pick_torch_device`` (00)
    bench       warm-up/repeat timing, scaling, Amdahl (11)    checks    exercise checks (every notebook)
    models      the article's ``Net``, Keras MLP/CNN (05, 06)  legacy    the article's slow reader (04)
Theory (01-03)
    cnn, explorer, rnn, tasks
Single device (04-06)
    pipeline, train, plots, tf_train
Several devices (07-08)
    launch, launch_demos, ring, ddp, torchrun_train, torchrun_launch, tf_distributed, tf_multiworker
Updates, inference, tuning (09-11)
    async_sgd, infer, tf_infer, spark_infer, export, gpu_tuning
Large models (12)
    memory, parallel, checkpointing
Course tooling
    run_course (``make course``), student (``make student``), grade (``make grade``), site (``make site``)
"""

__version__ = "0.1.0"
