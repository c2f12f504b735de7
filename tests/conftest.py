"""Shared by every lab's tests: the `syslab` command line run in-process."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from syslab.cli import main


@dataclass
class CliRun:
    code: int
    out: str
    err: str


@pytest.fixture
def syslab(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
           ) -> Callable[..., CliRun]:
    """Run the `syslab` command line in this process (what the `syslab` script calls);
    returns exit code, stdout and stderr."""
    # Wide tables, whatever the terminal (xdist workers say 80 columns): no cell gets cut.
    monkeypatch.setenv("COLUMNS", "250")

    def run(*args: str | Path) -> CliRun:
        monkeypatch.setattr(sys, "argv", ["syslab", *map(str, args)])
        try:
            main()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        out, err = capsys.readouterr()
        return CliRun(code, out, err)

    return run


def check_one_line_error(run: CliRun, *needles: str) -> None:
    """Bad input ends in exit code 2 and one line on stderr naming the problem."""
    assert run.code == 2, run.out + run.err
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert "Traceback" not in run.err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def one_line_error() -> Callable[..., None]:
    return check_one_line_error
