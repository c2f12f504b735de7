"""`syslab`: one command line for every lab. Bad input ends in one line and exit code 2."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from typer.exceptions import TyperException

from syslab.cache.cli import app as cache_app
from syslab.cdn.cli import app as cdn_app
from syslab.common.errors import UserError
from syslab.sched.cli import app as sched_app
from syslab.train.cli import app as train_app
from syslab.txn.cli import app as txn_app
from syslab.video.cli import app as video_app

app = typer.Typer(
    no_args_is_help=True,
    help="syslab: classic systems problems, each solved by a real, measured system.",
    pretty_exceptions_enable=False,
)
app.add_typer(cache_app, name="cache")
app.add_typer(cdn_app, name="cdn")
app.add_typer(sched_app, name="sched")
app.add_typer(train_app, name="train")
app.add_typer(video_app, name="video")
app.add_typer(txn_app, name="txn")


@app.command()
def tour(
    out: Path = typer.Option(Path("out/report"), help="Folder for the HTML report."),
) -> None:
    """Run every finished lab's quick experiment on synthetic data and write an HTML report."""
    from syslab.tour import run_tour

    index = run_tour(out, Console())
    Console().print(f"[bold green]report:[/] {index}")


@app.command()
def data() -> None:
    """Show where real data sets are looked up and which were found."""
    from syslab.common.data import ENV_VAR, data_root, lab_files
    from syslab.common.report import Table
    from syslab.tour import LABS

    console = Console()
    root = data_root()
    console.print(
        f"data root: {root if root else 'none'} "
        f"(set ${ENV_VAR}, else ../shared/data beside the checkout)"
    )
    rows = [
        {
            "lab": lab,
            "files": len(lab_files(lab)),
            "examples": ", ".join(p.name for p in lab_files(lab)[:3]),
        }
        for lab in LABS
    ]
    console.print(Table("real data sets found", ["lab", "files", "examples"], rows).to_rich())
    if root is None:
        console.print(
            "no real data: tests and the tour use synthetic data; benchmarks need it. "
            "Each lab's README in the data folder names where the originals come from."
        )


def main() -> None:
    """Entry point: run the app, turning user errors into one line and exit code 2."""
    err = Console(stderr=True, soft_wrap=True)  # one line, however long
    try:
        code = app(standalone_mode=False)  # click returns a typer.Exit's code here
    except UserError as e:
        err.print(f"[red]error:[/] {e}", highlight=False)
        sys.exit(e.exit_code)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except TyperException as e:  # bad flags and arguments (typer's own usage errors)
        if type(e).__name__ == "NoArgsIsHelpError":  # help was already printed
            sys.exit(0)
        err.print(f"[red]error:[/] {e.format_message()}", highlight=False)
        sys.exit(2)
    except OSError as e:  # unreadable output folder, full disk: still one line
        err.print(f"[red]error:[/] {e.strerror}: {e.filename}", highlight=False)
        sys.exit(2)
    if isinstance(code, int) and code:
        sys.exit(code)
