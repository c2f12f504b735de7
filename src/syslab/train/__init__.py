"""The training lab: where data-parallel training spends its time, and our own DataParallel.

- `models/`: a model zoo in plain torch (torchvision does not import with our torch), with
  torchvision's parameter counts.
- `workloads.py`: synthetic batches of configurable shape.
- `dataparallel/`: our DataParallel, in rungs (naive, bucketed, overlapped, fp16, no-sync).
- `timers.py`, `hooks.py`: per-iteration timers and byte-counting communication hooks.
- `netns.py`: private network namespaces, veth links and tbf bandwidth limits.
- `worker.py`, `launcher.py`: one rank's training loop, and N of them over torch.distributed.
- `perfmodel/`: an alpha-beta allreduce fit and a replay of bucket-ready times.
"""
