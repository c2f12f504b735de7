"""`syslab video …` as a user meets it: tables on good input; one line and exit code 2,
before any decoding, on bad input."""

from __future__ import annotations

import json

import pytest

from syslab.common.data import lab_data


def test_run_on_a_generated_clip_prints_every_filter_and_writes_json(syslab, clip, tmp_path,
                                                                     monkeypatch):
    monkeypatch.chdir(tmp_path)  # the reference cache goes under out/
    out = tmp_path / "rows.json"
    r = syslab("video", "run", "--video", clip.path, "--query", "count:car,truck,bus",
               "--filter", "all,uniform,diff-pixel,ours", "--target", "0.8", "--smooth", "1",
               "--json", out)
    assert r.code == 0, r.err
    assert "blobs" in r.out  # a generated clip gets the colour-blob reference
    rows = json.loads(out.read_text())
    assert [x["name"] for x in rows] == ["all", "uniform", "diff-pixel", "ours"]
    assert rows[0]["accuracy"] == 1.0 and rows[0]["fraction_filtered"] == 0.0
    assert all(0.0 <= x["fraction_filtered"] <= 1.0 for x in rows)


def test_compare_writes_a_plot_and_results_per_clip(syslab, clip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # the AVI has no truth file beside it: name the synthetic clips' detector explicitly
    r = syslab("video", "compare", "--video", f"{clip.path},{clip.avi}", "--query",
               "presence:any", "--filter", "uniform,empty,ours", "--smooth", "1",
               "--detector", "blobs", "--out", tmp_path / "cmp")
    assert r.code == 0, r.err
    assert (tmp_path / "cmp" / "tradeoff_1_synthetic.png").exists()
    assert (tmp_path / "cmp" / "tradeoff_2_synthetic.png").exists()
    report = json.loads((tmp_path / "cmp" / "results.json").read_text())
    assert len(report) == 2 and len(report[0]["uniform_curve"]) == 60
    assert "best uniform rate" in r.out


def test_filters_and_models_list_what_there_is(syslab):
    r = syslab("video", "filters")
    assert r.code == 0 and "cascade" in r.out and "ours" in r.out
    lines = {line.split("│")[1].strip(): line for line in r.out.splitlines()
             if line.count("│") >= 3}
    assert "NoScope" in lines["cascade"] and "every frame" in lines["all"]
    r = syslab("video", "models")
    assert r.code == 0 and "yolo-fastest-1.1-xl.weights" in r.out


def test_generate_writes_a_clip_and_its_truth(syslab, tmp_path):
    out = tmp_path / "g.mp4"
    r = syslab("video", "generate", "--out", out, "--seconds", "2", "--fps", "5", "--width",
               "160", "--height", "96")
    assert r.code == 0, r.err
    assert out.exists() and any(p.name.startswith("g.mp4") and p != out
                                for p in tmp_path.iterdir())


@pytest.mark.parametrize("args,needle", [
    (["--video", "nope.mp4"], "nope.mp4"),
    (["--filter", "bogus"], "unknown filter"),
    (["--filter", "diff-bogus"], "difference feature"),
    (["--target", "1.5"], "target accuracy"),
    (["--profile", "0"], "profile share"),
    (["--smooth", "4"], "smoothing window"),
    (["--query", "count:unicorn"], "unicorn"),
    (["--query", "tally:car"], "tally"),
    (["--detector", "yolo-v99"], "yolo-v99"),
])
def test_bad_input_is_one_line_and_exit_2(syslab, one_line_error, clip, args, needle):
    base = {"--video": str(clip.path), "--query": "count:car"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    r = syslab("video", "run", *[x for kv in base.items() for x in kv])
    one_line_error(r, needle)


def test_corrupt_video_is_one_line(syslab, one_line_error, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x01garbage" * 100)
    one_line_error(syslab("video", "run", "--video", bad, "--detector", "blobs"), "bad.mp4")


def test_missing_model_files_are_one_line(syslab, one_line_error, clip, tmp_path, monkeypatch):
    (tmp_path / "video" / "models").mkdir(parents=True)
    monkeypatch.setenv("SYSLAB_DATA", str(tmp_path))
    r = syslab("video", "run", "--video", clip.path, "--detector", "yolo-fastest-xl")
    one_line_error(r, "syslab video models")


@pytest.mark.skipif(lab_data("video") is None, reason="needs the shared video clips and models")
def test_run_on_a_real_clip_by_name(syslab, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = syslab("video", "run", "--video", "car-overhead", "--filter", "uniform,empty")
    assert r.code == 0, r.err
    assert "car-detection" in r.out and "empty" in r.out
