"""Regenerate the measured parts of docs/video.md from benchmarks/results/video.json.

    .venv/bin/python benchmarks/video/write_doc.py

Each `<!-- results:NAME -->` block is rebuilt from the key of video.json its benchmark
script wrote; a key that is missing says so instead of keeping old numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

from syslab.common.report import made_by, markdown_table, regenerate_doc

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "video.json"
DOC = ROOT / "docs" / "video.md"


def _yes(flag: object) -> str:
    return {True: "**met**", False: "**not met**"}.get(flag, "-")


def filtering(r: dict) -> str:
    parts = [
        f"Reference: {r['reference']} on every frame, its count smoothed by a "
        f"{r['smooth_window']}-frame running median. Filters learn on the first "
        f"{r['profile_fraction']:.0%} of each clip and are scored on the rest; target "
        f"accuracy {r['target']:g}."
    ]
    for name, c in r["clips"].items():
        rows = [[x["name"], x["filter"], f"{x['accuracy']:.3f}", f"{x['fraction_filtered']:.3f}",
                 f"{x['segments_meeting_target']:.2f}", f"{x['filter_cpu_ms_per_frame']:.3f}"]
                for x in c["filters"]]
        u = c["ours_vs_best_uniform"]
        uni = u["uniform"]
        parts.append(
            f"**{name}** (`{c['query']}`, {c['frames']} frames at {c['fps']:g} fps, "
            f"{c['scored_frames']} scored)\n\n"
            + markdown_table(["filter", "learned", "accuracy", "filtered", "segments ≥ target",
                              "CPU ms/frame (replay)"], rows)
            + f"\n\nOurs: {u['ours_filtered']:.1%} filtered at accuracy {u['ours_accuracy']:.3f}; "
            + (f"the best uniform rate at least as accurate is 1 in {uni['every']}, "
               f"{uni['fraction_filtered']:.1%} filtered" if uni else "no uniform rate is as "
               "accurate")
            + f" (never below uniform: {_yes(u['met'])}).\n\n"
            f"![{name}](../{c['figure']})"
        )
    g = r.get("goals", {})
    if g:
        parts.append(
            f"Highway goal (≥ 75 % filtered, target met in ≥ 90 % of 5-s segments): "
            f"{g['highway_filtered']:.1%} filtered, {g['highway_segments']:.0%} of segments: "
            f"{_yes(g['highway_met'])}. Never below the best uniform rate at equal accuracy, on "
            f"every clip: {_yes(g['never_below_uniform'])}.")
    return "\n\n".join(parts) + made_by(r)


def oracle(r: dict) -> str:
    rows = [[x["clip"], f"`{x['query']}`", f"{x['target']:g}", str(x["scored_frames"]),
             str(x["fewest_sends"]), f"{x['fraction_sent']:.1%}", f"{x['accuracy']:.3f}"]
            for x in r["rows"]]
    return ("The fewest frames a filter that reuses the last answer must send to keep the "
            "target on the scored part, if it knew every answer of the smoothed reference "
            "in advance (`metrics.fewest_sends`, dynamic programming, checked against "
            "exhaustive search in the tests):\n\n"
            + markdown_table(["clip", "query", "target", "frames scored", "fewest sent",
                              "share sent", "accuracy then"], rows) + made_by(r))


def empty_and_cascade(r: dict) -> str:
    rows = []
    for name, c in r["clips"].items():
        e = c.get("empty")
        if e:
            met = e["empty_skipped"] >= 0.9 and e["recall_busy"] >= 0.99
            rows.append([name, e["filter"], str(e["empty_frames"]), f"{e['empty_skipped']:.3f}",
                         f"{e['recall_busy']:.4f}", _yes(met)])
    text = ("Empty frames (the empty-scene filter alone; goal: skip ≥ 90 % of the frames the "
            "reference calls empty with ≥ 0.99 recall of frames holding objects):\n\n"
            + markdown_table(["clip", "filter", "empty frames scored", "skipped", "recall",
                              "goal"], rows))
    rows = [[name, f"{c['cascade_settled']:.3f}", f"{c['cascade_agreement']:.4f}",
             _yes(c["cascade_settled"] >= 0.6 and c["cascade_agreement"] >= 0.99)]
            for name, c in r["clips"].items()]
    text += ("\n\nCascade (NoScope; settled = answered without the detector, by one of its "
             "difference detectors (against the empty scene, against the last frame checked) "
             "or its CNN; agreement = accuracy over the whole scored part against the "
             "reference; goal: ≥ 60 % settled at ≥ 99 % agreement):\n\n"
             + markdown_table(["clip", "settled", "agreement", "goal"], rows))
    rows = [[name, f"{x['trained_on']:.0%}", str(x["scored_frames"]), f"{x['cnn_accuracy']:.3f}",
             f"{x['settled_at_agreement']:.3f}"]
            for name, c in r["clips"].items() for x in c.get("cnn_ceiling", [])]
    if rows:
        text += ("\n\nThe CNN's ceiling: trained as the cascade trains it on the first part "
                 "of the clip (20 % is the profile), scored on the rest with the confidence "
                 "threshold chosen on those very frames, the largest share it could settle "
                 "while the scored part keeps 99 % agreement (no calibration can do better):"
                 "\n\n" + markdown_table(["clip", "trained on", "frames scored",
                                           "CNN accuracy", "most it could settle"], rows))
    names = sorted({k for c in r["clips"].values() for k in c["filter_cpu_ms"]})
    rows = [[name] + [f"{c['filter_cpu_ms'].get(k, float('nan')):.3f}" for k in names]
            for name, c in r["clips"].items()]
    text += ("\n\nFilter cost, CPU ms per frame: downscale + decide, decode excluded, median "
             "of 3 passes over 300 frames (goal ≤ 1 ms at 640×360; the person and "
             "car-overhead clips are 768×432, the highway 320×240; filters with a CNN are "
             "timed in the replay column above):\n\n"
             + markdown_table(["clip"] + names, rows))
    rows = []
    for name, c in r["clips"].items():
        for s in c.get("ours_sensitivity", []):
            trigger = s.get("trigger_factor", 2.0)
            rows.append([name, f"{s['margin']:g}", f"{s['prior_pairs']:g}",
                         "off" if trigger is None else f"{trigger:g}×",
                         f"{s['accuracy']:.3f}", f"{s['fraction_filtered']:.3f}",
                         f"{s['segments_meeting_target']:.2f}"])
    if rows:
        text += ("\n\nOurs at other settings of its knobs (the defaults, margin 0.05, prior "
                 "20 pairs and a difference trigger at 2× the profile's difference "
                 "threshold, were chosen from this sweep):\n\n"
                 + markdown_table(["clip", "margin", "prior pairs", "trigger", "accuracy",
                                   "filtered", "segments ≥ target"], rows))
    return text + made_by(r)


def decode(r: dict) -> str:
    by = {(x["clip"], x["mode"]): x for x in r["rows"]}
    rows = [[x["clip"], x["size"], x["codec"], x["mode"], f"{x['ms_per_frame']:.2f}",
             f"{x['fps_per_core']:.0f}"] for x in r["rows"]]
    s = r["summary"]
    m = r["machine"]
    return (
        f"CPU time per frame, one decoding thread, best of {r['repeats']} passes; load average "
        f"{m['load_before'][0]:.1f} before, {m['load_after'][0]:.1f} after. The 720p clips "
        f"are {r['origin_720p']}, {r['encoding_720p']}.\n\n"
        + markdown_table(["clip", "size", "codec", "mode", "ms/frame", "frames/s per core"], rows)
        + f"\n\nGoal ≥ {s['goal_fps_per_core']:.0f} frames/s per core at 720p. High profile: "
        + ", ".join(f"{k} {v:.0f} ({_yes(s['met_720p'].get(k))})"
                    for k, v in s["fps_720p"].items() if k in s["met_720p"])
        + "".join(
            f". {title}: " + ", ".join(f"{k} {by[clip, k]['fps_per_core']:.0f} ({_yes(v)})"
                                       for k, v in s[key].items())
            for title, clip, key in (("Baseline profile", "720p-base", "met_720p_baseline"),
                                     ("Fast-decode tuning", "720p-fastdecode",
                                      "met_720p_fastdecode"))
            if key in s)
        + ("; file sizes " + ", ".join(f"{k} {v:,.0f} KB" for k, v in s["kb_720p"].items())
           + " (the same crf: fast decoding costs bits)" if "kb_720p" in s else "")
        + ("; the shrink of a 720p frame to 160 columns, CPU ms: " + ", ".join(
            f"{k} {v:.2f}" for k, v in s["shrink_720p_ms"].items())
           if "shrink_720p_ms" in s else "")
        + f". Brightness plane vs BGR: {s['gray_speedup_720p']:.2f}× faster. For comparison "
        "only (another clip, another day): the research note measured OpenCV BGR at 2.25 "
        "ms/frame on its own 720p re-encode; the detectors table below shows how much slower "
        "this machine ran the same detectors than on the note's day."
        + made_by(r)
    )


def detectors(r: dict) -> str:
    rows = [[x["detector"], x["clip"], x["resolution"], f"{x['ms_per_frame']:.1f}",
             f"{x['fps_per_core']:.0f}", str(x.get("research_ms", "-")),
             f"{x['dets_per_frame']:.1f}" if "dets_per_frame" in x else "-"]
            for x in r["rows"]]
    return (f"CPU ms per frame, one thread, median of {r['repeats']} passes over "
            f"{r['frames']} frames.\n\n"
            + markdown_table(["detector", "clip", "input", "ms/frame", "frames/s per core",
                              "research note ms", "detections/frame"], rows) + made_by(r))


def pipeline(r: dict) -> str:
    rows = [[x["clip_name"], x["name"], "yes" if x["paced"] else "no",
             f"{x['sent']}/{x['frames']}", f"{x['mb_sent']:.2f}",
             f"{x['camera_cpu_ms_per_frame']:.2f}", f"{x['server_cpu_ms_per_frame']:.2f}",
             f"{x['total_cpu_ms_per_frame']:.2f}",
             f"{x['lag_p50_ms']:,.0f} / {x['lag_p95_ms']:,.0f}", f"{x['accuracy']:.3f}",
             f"{x['accuracy_raw_reference']:.3f}" if "accuracy_raw_reference" in x else "-"]
            for x in r["rows"]]
    ratios = "; ".join(f"{s['clip']}: {s['cpu_ratio_all_over_ours']:.1f}x "
                       f"({_yes(s['meets_goal'])})" for s in r["summary"])
    return (
        f"`syslab video serve` ({r['reference']}) and `syslab video camera` as two processes "
        f"on loopback, JPEG quality {r.get('jpeg_quality', 80)}, target {r['target']:g}; CPU "
        "per frame of the scored part (camera: its process over the stream: decode, shrink, "
        "filter, JPEG, sockets; server: from READY to the last ANSWER). `all` sends every "
        "frame, unpaced (its lag is queueing); `ours` runs "
        "paced at the clip's rate. Live accuracy is against the smoothed reference, as "
        "everywhere; the last column against the raw one (the server answers with raw "
        "detections, so flicker counts against `all` in the first and nowhere in the "
        "second).\n\n"
        + markdown_table(["clip", "filter", "paced", "sent", "MB sent", "camera CPU ms",
                          "server CPU ms", "total CPU ms", "lag p50 / p95 ms",
                          "live accuracy", "vs raw reference"], rows)
        + f"\n\nTotal CPU per frame, all / ours (goal ≥ {r['goal_cpu_ratio']:g}x): {ratios}."
        + send_budget(r)
        + live_ceiling(r["summary"])
        + made_by(r)
    )


def send_budget(r: dict) -> str:
    """For each clip that misses the goal: how many frames `ours` could have sent within it,
    at this run's camera and per-sent-frame server costs."""
    by = {(x["clip_name"], x["name"]): x for x in r["rows"]}
    goal, lines = r["goal_cpu_ratio"], []
    for s in r["summary"]:
        a, o = by.get((s["clip"], "all")), by.get((s["clip"], "ours"))
        if s["meets_goal"] or a is None or o is None or not o["sent"]:
            continue
        allowed = a["total_cpu_ms_per_frame"] / goal
        per_sent = o["server_cpu_ms_per_frame"] * o["frames"] / o["sent"]
        share = max(0.0, (allowed - o["camera_cpu_ms_per_frame"]) / per_sent)
        lines.append(
            f"{s['clip']}: `all` costs {a['total_cpu_ms_per_frame']:.1f} ms per frame, so "
            f"{goal:g}x allows {allowed:.1f} ms; `ours`' camera takes "
            f"{o['camera_cpu_ms_per_frame']:.2f} ms and each frame it sends {per_sent:.1f} ms "
            f"of server CPU, so at most {share:.1%} of frames may go out "
            f"({share * o['frames']:.0f} of {o['frames']}); it sent "
            f"{o['sent'] / o['frames']:.1%} ({o['sent']})")
    return ("\n\nThe sending budget where the goal is missed: " + "; ".join(lines) + "."
            if lines else "")


def live_ceiling(summary: list[dict]) -> str:
    rows = [[s["clip"], f"{c['raw']:.3f}", f"{c['causal_median_3']:.3f}",
             f"{c['causal_median_5']:.3f}", f"{c['causal_median_9']:.3f}"]
            for s in summary if (c := s.get("live_ceiling"))]
    if not rows:
        return ""
    return ("\n\nWhat a live answer can score at best against the smoothed reference, "
            "whatever the filter: the detector's own raw answer on every original frame (no "
            "JPEG), and the running median of those over the last 3, 5 or 9 frames (a live "
            "pipeline cannot wait for the frames after, as the centred median does):\n\n"
            + markdown_table(["clip", "raw, every frame", "causal median 3", "causal median 5",
                              "causal median 9"], rows))


def jpeg(r: dict) -> str:
    """The JPEG table, then the pipeline reruns at other qualities (`pipeline_jpeg_Q` keys,
    which `main` hands in as r["reruns"], with the quality-80 run as r["pipeline"])."""
    lines = []
    base = {(x["clip_name"], x["name"]): x for x in r["pipeline"].get("rows", [])}
    for run in r["reruns"]:
        for x in run["rows"]:
            b = base.get((x["clip_name"], x["name"]))
            was = (f" (quality 80: {b['accuracy']:.3f} / {b['accuracy_raw_reference']:.3f}, "
                   f"{b['sent']} sent, {b['mb_sent']:.2f} MB)") if b else ""
            lines.append(f"- {x['clip_name']} `{x['name']}` at quality {run['jpeg_quality']}: "
                         f"live accuracy {x['accuracy']:.3f}, vs raw reference "
                         f"{x['accuracy_raw_reference']:.3f}, {x['sent']}/{x['frames']} sent, "
                         f"{x['mb_sent']:.2f} MB{was}")
        lines.append(f"\n_Made by `{run['command'].strip()}`._")
    rows = [[x["clip"], x["size"], x["encoding"], str(x["frames"]), f"{x['agreement']:.3f}",
             f"{x['frames_changed']:.1%}", f"{x['kb_per_frame']:.1f}"] for x in r["rows"]]
    return (
        f"{r['reference']} on each encoded-then-decoded frame against the same detector on "
        "the raw frame: the clip's query answer per frame, unsmoothed (counting accuracy, or "
        "tagging for presence), over consecutive frames of the scored part. PNG (lossless) is "
        "the control.\n\n"
        + markdown_table(["clip", "frame", "encoding", "frames", "agreement with raw",
                          "frames whose answer changed", "KB per frame"], rows)
        + made_by(r)
        + ("\n\nThe pipeline rerun at another JPEG quality:\n\n" + "\n".join(lines)
           if lines else "")
    )


BLOCKS = {"filtering": filtering, "oracle": oracle, "empty": empty_and_cascade,
          "decode": decode, "detectors": detectors, "pipeline": pipeline, "jpeg": jpeg}
SOURCES = {"filtering": "filtering", "oracle": "oracle", "empty": "filtering",
           "decode": "decode", "detectors": "detectors", "pipeline": "pipeline", "jpeg": "jpeg"}


def _inputs(name: str, results: dict) -> dict | None:
    r = results.get(SOURCES[name])
    if name == "jpeg" and r:
        r = r | {"pipeline": results.get("pipeline", {}),
                 "reruns": [v for k, v in sorted(results.items())
                            if k.startswith("pipeline_jpeg_")]}
    return r


def main() -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    blocks = {}
    for name, render in BLOCKS.items():
        r = _inputs(name, results)
        blocks[name] = render(r) if r else "Not measured yet (run the benchmark named here)."
    regenerate_doc(DOC, blocks)


if __name__ == "__main__":
    main()
