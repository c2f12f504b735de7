"""A sans-I/O performance model of data-parallel training (numpy and scipy; no torch).

An alpha-beta ring-allreduce fit (`allreduce`), DDP's bucket assignment (`buckets`), a
single-rank compute profile (`profile`), a replay of bucket-ready times against a serial
communication stream (`replay`), CPU contention (`contention`) and their combination into
predictions for configurations that were not measured (`predict`).
"""

from syslab.train.perfmodel.allreduce import AlphaBeta, fit_alpha_beta
from syslab.train.perfmodel.buckets import (
    DDP_DEFAULT_CAP_MB,
    DDP_DEFAULT_FIRST_BUCKET_BYTES,
    MIB,
    assign_buckets,
    bucket_bytes,
    ddp_bucket_caps,
    ddp_initial_buckets,
)
from syslab.train.perfmodel.contention import contention, fit_contention_k
from syslab.train.perfmodel.predict import mape, predict
from syslab.train.perfmodel.profile import ComputeProfile
from syslab.train.perfmodel.replay import BucketTiming, Replay, replay

__all__ = [
    "DDP_DEFAULT_CAP_MB",
    "DDP_DEFAULT_FIRST_BUCKET_BYTES",
    "MIB",
    "AlphaBeta",
    "BucketTiming",
    "ComputeProfile",
    "Replay",
    "assign_buckets",
    "bucket_bytes",
    "contention",
    "ddp_bucket_caps",
    "ddp_initial_buckets",
    "fit_alpha_beta",
    "fit_contention_k",
    "mape",
    "predict",
    "replay",
]
