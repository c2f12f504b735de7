"""GPU-cluster scheduling lab: a fast, faithful simulator of training-job schedulers.

Table of contents:
- `jobs`: the job record and a trace (a list of jobs in arrival order).
- `workloads`: readers for real trace formats and a synthetic generator.
- `throughput`: steps/s tables per job type × GPU type × GPU count (Gavel's format).
- `cluster`: the cluster spec (YAML) and the free-GPU bookkeeping used for placement.
- `policies/`: one small file per scheduling policy behind one interface.
- `engine`: the event-driven and round-based simulator.
- `metrics`: JCT, queueing delay, makespan, utilisation, finish-time fairness, Jain's index.
- `cli`: `syslab sched simulate | compare | generate`.
"""
