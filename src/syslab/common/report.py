"""Tables and reports: one structure, printed with rich and written as a static HTML page."""

from __future__ import annotations

import html
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table as RichTable


def table_console() -> Console:
    """A console for printing tables: piped output gets 200 columns instead of rich's 80, so
    tables are not squeezed (an explicit COLUMNS still wins)."""
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=200)
    return console


@dataclass
class Table:
    """Rows of records shown under chosen columns; floats are formatted per column."""

    title: str
    columns: Sequence[str]
    rows: Sequence[dict]
    formats: dict[str, str] = field(default_factory=dict)  # column -> format spec, e.g. ".4f"

    def cell(self, row: dict, column: str) -> str:
        value = row.get(column, "")
        spec = self.formats.get(column)
        if spec and isinstance(value, int | float):
            return format(value, spec)
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    def to_rich(self) -> RichTable:
        table = RichTable(title=self.title, title_justify="left")
        for column in self.columns:
            table.add_column(column, justify="right" if self._numeric(column) else "left")
        for row in self.rows:
            table.add_row(*(self.cell(row, c) for c in self.columns))
        return table

    def to_html(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape(self.cell(r, c))}</td>" for c in self.columns)
            + "</tr>"
            for r in self.rows
        )
        return (
            f"<table><caption>{html.escape(self.title)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )

    def _numeric(self, column: str) -> bool:
        return any(isinstance(r.get(column), int | float) for r in self.rows)


@dataclass
class Section:
    """One lab's part of a report: prose, tables and figures (PNG paths)."""

    title: str
    text: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)

    def print(self, console: Console) -> None:
        console.rule(f"[bold]{self.title}")
        if self.text:
            console.print(self.text)
        for table in self.tables:
            console.print(table.to_rich())
        for fig in self.figures:
            console.print(f"[dim]figure: {fig}")


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
caption { text-align: left; font-weight: 600; padding: 0.3rem 0; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5rem 0; }
"""


def write_html(sections: Sequence[Section], out_dir: Path, *, title: str = "syslab report") -> Path:
    """Write `out_dir/index.html` with every section; figures are copied beside it."""
    out_dir = Path(out_dir)
    (out_dir / "figures").mkdir(parents=True, exist_ok=True)
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.</p>",
    ]
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        if section.text:
            parts.append(f"<p>{html.escape(section.text)}</p>")
        parts.extend(table.to_html() for table in section.tables)
        for fig in section.figures:
            target = out_dir / "figures" / Path(fig).name
            if Path(fig).resolve() != target.resolve():
                shutil.copyfile(fig, target)
            parts.append(
                f'<img src="figures/{html.escape(target.name)}" alt="{html.escape(target.stem)}">'
            )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>"
    )
    index = out_dir / "index.html"
    index.write_text(page)
    return index


def made_by(record: dict) -> str:
    """The line under a results block saying which command made it (and when, if the
    record has a date): every number in a write-up names its run."""
    when = f" on {record['date']}" if record.get("date") else ""
    return f"\n\n_Made by `{record['command'].strip()}`{when}._"


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table; floats get 4 decimals below 10, else thousands."""

    def cell(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.4f}" if abs(v) < 10 else f"{v:,.0f}"
        return "-" if v is None else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def fill_blocks(doc: str, blocks: dict[str, str]) -> tuple[str, list[str]]:
    """Replace each `<!-- results:NAME -->…<!-- /results:NAME -->` body in a Markdown doc.

    The measured parts of a lab's write-up are regenerated this way from its benchmark
    results; the prose around them is written by hand. Returns the new text and the names
    that had no block in `doc`.
    """
    missing = []
    for name, text in blocks.items():
        pattern = re.compile(
            rf"(<!-- results:{re.escape(name)} -->\n).*?(<!-- /results:{re.escape(name)} -->)", re.S
        )
        doc, n = pattern.subn(lambda m, t=text: m.group(1) + t + "\n" + m.group(2), doc)
        if n == 0:
            missing.append(name)
    return doc, missing


def regenerate_doc(doc: Path, blocks: dict[str, str]) -> Path:
    """Rewrite the results blocks of the write-up `doc` (see `fill_blocks`); a block the
    doc lacks is an error, so a renamed block never leaves stale numbers behind."""
    doc = Path(doc)
    text, missing = fill_blocks(doc.read_text(), blocks)
    if missing:
        raise SystemExit(f"{doc.name} lacks results blocks: {', '.join(missing)}")
    doc.write_text(text)
    print(f"updated {doc}")
    return doc
