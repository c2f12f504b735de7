"""The shared pieces: records, sweeps, report, data lookup, size parsing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syslab.cache.engine import parse_size
from syslab.common import data
from syslab.common.errors import UserError
from syslab.common.records import read_jsonl, write_jsonl
from syslab.common.report import Section, Table, write_html
from syslab.common.sweep import sweep


def square(x: int) -> int:
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three")
    return x


def test_sweep_keeps_task_order_in_parallel_and_inline() -> None:
    tasks = list(range(20))
    assert sweep(square, tasks, workers=2, weights=tasks) == [x * x for x in tasks]
    assert sweep(square, tasks, workers=1) == [x * x for x in tasks]


def test_sweep_propagates_errors() -> None:
    with pytest.raises(ValueError, match="three"):
        sweep(fail_on_three, list(range(6)), workers=2)


def test_records_round_trip(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a" / "r.jsonl", [{"x": 1}, {"y": [1, 2]}])
    write_jsonl(path, [{"z": 0.5}], append=True)
    assert list(read_jsonl(path)) == [{"x": 1}, {"y": [1, 2]}, {"z": 0.5}]


def test_report_html_has_tables_and_copies_figures(tmp_path: Path) -> None:
    fig = tmp_path / "plot.png"
    fig.write_bytes(b"\x89PNG fake")
    section = Section(
        "lab <x>",
        "text & more",
        [Table("t", ["a", "b"], [{"a": "r1", "b": 0.123456}], {"b": ".2f"})],
        [fig],
    )
    index = write_html([section], tmp_path / "report")
    page = index.read_text()
    assert "lab &lt;x&gt;" in page and "<td>0.12</td>" in page
    assert (tmp_path / "report" / "figures" / "plot.png").exists()


def test_data_lookup_prefers_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "README.md").write_text("x")
    (tmp_path / "cache" / "t.trace.gz").write_bytes(b"")
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    assert data.data_root() == tmp_path
    assert [p.name for p in data.lab_files("cache")] == ["t.trace.gz"]
    assert data.lab_data("sched") is None


@pytest.mark.parametrize(
    ("text", "value"), [("0.01", 0.01), ("1%", 0.01), ("5000", 5000), (".5", 0.5), ("1.0", 1.0)]
)
def test_parse_size(text: str, value: float) -> None:
    assert parse_size(text) == pytest.approx(value)
    assert type(parse_size(text)) is type(value)


@pytest.mark.parametrize("text", ["0", "-1", "abc", "2.5", "0%", ""])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(UserError):
        parse_size(text)


def test_update_json_keeps_other_keys(tmp_path: Path) -> None:
    from syslab.common.records import update_json

    path = tmp_path / "r" / "lab.json"
    update_json(path, "a", {"x": 1})
    update_json(path, "b", [1, 2])
    update_json(path, "a", {"x": 2})
    assert json.loads(path.read_text()) == {"a": {"x": 2}, "b": [1, 2]}
    assert [p.name for p in path.parent.iterdir()] == ["lab.json"]  # no temp file left


def test_made_by_names_the_command_and_its_date_when_known() -> None:
    from syslab.common.report import made_by

    assert made_by({"command": "python b.py ", "date": "2026-11-29"}) == (
        "\n\n_Made by `python b.py` on 2026-11-29._")
    assert made_by({"command": "python b.py"}) == "\n\n_Made by `python b.py`._"
