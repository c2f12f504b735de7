"""Run many independent experiments over a process pool, with a rich progress bar."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """One worker per core this process may use."""
    return max(1, len(os.sched_getaffinity(0)))


def progress_bar(console: Console | None = None) -> Progress:
    """The progress bar every long job shows (to stderr, so tables on stdout stay clean)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console or Console(stderr=True),
        transient=True,
    )


def sweep(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    *,
    workers: int | None = None,
    description: str = "running",
    weights: Sequence[float] | None = None,
) -> list[R]:
    """`[fn(t) for t in tasks]`, in parallel when workers > 1, results in task order.

    `fn` and the tasks must be picklable (a module-level function). `weights` (e.g. the
    number of requests per task) start the heaviest tasks first so the pool finishes together.
    An exception in any task propagates after the pool shuts down.
    """
    workers = default_workers() if workers is None else max(1, workers)
    order = sorted(range(len(tasks)), key=lambda i: -weights[i]) if weights else range(len(tasks))
    results: list = [None] * len(tasks)
    with progress_bar() as progress:
        bar = progress.add_task(description, total=len(tasks))
        if workers == 1 or len(tasks) <= 1:
            for i in order:
                results[i] = fn(tasks[i])
                progress.advance(bar)
            return results
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(fn, tasks[i]): i for i in order}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                progress.advance(bar)
    return results
