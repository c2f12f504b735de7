"""Regenerate the measured parts of docs/train.md from benchmarks/results/train.json.

    .venv/bin/python benchmarks/train/write_doc.py

Each `<!-- results:NAME -->` block is rebuilt from the key of train.json its benchmark
script wrote; a missing key says which script to run instead of keeping old numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from syslab.common.report import made_by, markdown_table, regenerate_doc

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "train.json"
DOC = ROOT / "docs" / "train.md"


def _pct(x: float | None, spec: str = ".1%") -> str:
    return "-" if x is None else format(x, spec)


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1e3:,.1f}"


def bytes_block(r: dict) -> str:
    s = r["summary"]
    ranges = ", ".join(f"N={n}: {lo:.4f}–{hi:.4f}"
                       for n, (lo, hi) in sorted(s["wire_ratio_by_workers"].items()))
    return (
        "Payload handed to allreduce per step equals the model's parameter bytes in "
        f"**{'every' if s['payload_equals_model_bytes_every_run'] else 'NOT every'}** DDP "
        "run of the sweep (4 models × batch 8/32/64 × N = 2..4 × repeats; it does not "
        "depend on the batch). Wire bytes sent per rank, over the ring's 2(N−1)/N × model "
        f"size: {ranges}; largest deviation **{s['wire_ratio_max_deviation']:.2%}** (goal "
        "±1 %). The excess is TCP/IP headers on loopback's 64 KiB segments (the smallest "
        f"excess, {min(lo for lo, _ in s['wire_ratio_by_workers'].values()) - 1:.2%}, is "
        "that alone) and, for the BatchNorm models, DDP's broadcast of the running "
        "statistics before every forward: traffic, but not gradient payload." + made_by(r))


def sweep_block(r: dict) -> str:
    rows = [x for x in r["rows"] if x["impl"] == "ddp" and x["workers"] > 1]
    table = [[x["model"], x["batch"], x["workers"], _ms(x["iteration_s"]),
              _ms(x["forward_s"] + x["backward_compute_s"]), _ms(x["exposed_comm_s"]),
              _ms(x["comm_busy_s"]), _pct(x.get("ddp_over_nosync"), "+.0%"),
              _pct(x["exposed_share"], ".0%"), _pct(x.get("scaling_efficiency"), ".2f")]
             for x in rows]
    per_sample = r["summary"]["backward_ms_per_sample"]
    compute = ", ".join(f"{m}: " + " / ".join(f"{v:.1f}" for _, v in sorted(
        per_sample[m].items(), key=lambda kv: int(kv[0]))) for m in sorted(per_sample))
    return (
        "torch DDP with its default buckets; times are medians over the measured steps, "
        f"then over {r['summary']['repeats']} interleaved repeats (ms per step). *compute* "
        "is forward + backward compute; *exposed* the communication the step waited for; "
        "*comm busy* the time an allreduce was running; *over no-sync* the step against the "
        "same workers training without communication; *efficiency* samples/s over "
        "N × one process alone.\n\n"
        + markdown_table(["model", "batch", "N", "step", "compute", "exposed", "comm busy",
                          "over no-sync", "exposed share", "efficiency"], table)
        + "\n\nBackward compute per sample in one process (ms, batch 8 / 32 / 64): "
        + compute + f". The sweep was {r['summary']['runs']} runs, "
        f"{r['summary']['run_minutes']:.0f} minutes of wall time." + made_by(r))


def comm_block(r: dict) -> str:
    s = r["summary"]
    loop = [x for x in r["rows"] if x["network"] == "loopback"]
    veth = [x for x in r["rows"] if x["network"] == "veth"]
    table = [[x["workers"], f"{x['bytes']:,}", _ms(x["median_s"]), _ms(x["predicted_s"]),
              f"{x['wire_ratio']:.4f}"] for x in loop]
    vt = [[f"{x['rate_mbit']:g}", x["workers"], f"{x['bytes']:,}", _ms(x["median_s"]),
           _ms(x["predicted_s"]), f"{x['wire_ratio']:.4f}"] for x in veth]
    return (
        f"Fitted on N = 2 only: α = **{s['alpha_us']:.0f} µs** per ring step, bus bandwidth "
        f"**{s['bus_bandwidth_gb_s']:.2f} GB/s** (fit MAPE {s['fit_mape_n2']:.1%}). "
        f"Held out, N = 3 and 4: MAPE **{s['heldout_mape_n3_n4']:.1%}** over all sizes, "
        f"{s['heldout_mape_n3_n4_ge_16mib']:.1%} at ≥ 16 MiB. On veth links limited by tbf "
        f"the same fit with the link's bandwidth predicts with MAPE {s['veth_mape']:.1%}. "
        "Wire ratio: bytes each rank sent over 2(N−1)/N × size.\n\n"
        + markdown_table(["N", "bytes", "measured ms", "α-β ms", "wire ratio"], table)
        + "\n\nveth, tbf per worker uplink (1500-byte frames, so headers add ~4.6 % on the "
        "wire, and each rank's ACKs for what it receives count in its tx):\n\n"
        + markdown_table(["Mbit/s", "N", "bytes", "measured ms", "α-β ms", "wire ratio"], vt)
        + made_by(r))


def impls_block(r: dict) -> str:
    out = []
    for model, s in r["summary"].items():
        rows = [x for x in r["rows"] if x["model"] == model]
        table = [[x["label"], _ms(x["iteration_s"]), f"{x['vs_ddp']:.3f}",
                  _ms(x["exposed_comm_s"]), x["buckets"], f"{x['wire_ratio']:.4f}",
                  f"{x['weights_rel_diff']:.1e}"] for x in rows]
        out.append(
            f"**{model}** (batch {r['batch']}, N = {r['workers']}, medians of "
            f"{r['repeats']} interleaved repeats):\n\n"
            + markdown_table(["implementation", "step ms", "vs ddp", "exposed ms", "buckets",
                              "wire ratio", "final weights vs DDP"], table)
            + f"\n\n- ours-overlap / DDP: **{s['overlap_vs_ddp']:.3f}** (goal ≤ 1.10)"
            f"\n- bucketing (naive → bucketed): **{s['bucketed_speedup_vs_naive']:+.1%}** "
            "faster (goal ≥ 15 %)"
            f"\n- overlap (bucketed → overlap): {s['overlap_gain_vs_bucketed']:+.1%}"
            f"\n- bucket rebuild: {s['rebuild_gain']:+.1%}; gradient views: ours "
            f"{s['views_gain_ours']:+.1%}, DDP {s['views_gain_ddp']:+.1%}"
            f"\n- DDP's 1 MiB first bucket (vs all 25 MiB): {s['first_bucket_gain_ddp']:+.1%}"
            f"\n- fp16 wire ratio: DDP {s['fp16_wire_ratio']['ddp-fp16']:.4f}, ours "
            f"{s['fp16_wire_ratio']['ours-fp16']:.4f} of full precision (goal 0.50 ± 0.01)"
            f"\n- our instrumentation (counting hook, per-step logger): "
            f"{s['instrumentation_cost']:+.1%} of DDP's step (a difference of medians)")
    return "\n\n".join(out) + made_by(r)


def timers_block(r: dict) -> str:
    s = r["summary"]
    table = [[a["model"], a["workers"], *(f"{a[f'ratio_{k}']:.3f}" for k in
                                          ("forward", "backward_compute", "communication"))]
             for a in r["agreement"]]
    dev = s["agreement_max_deviation"]
    return (
        f"One gradient-ready hook costs **{s['per_hook_us']:.1f} µs**, a bucket's log entry "
        f"and Python comm hook {s['per_bucket_us']:.1f} µs; over every DDP step of the "
        f"sweep the timers cost at most **{_pct(s['max_timer_share'], '.2%')}** of the step "
        "(goal < 1 %).\n\nOurs over DDP's logging data, per step and rank (median), batch "
        "32:\n\n"
        + markdown_table(["model", "N", "forward", "backward compute", "communication"],
                         table)
        + f"\n\nLargest deviation: forward {dev['forward']:.1%}, backward compute "
        f"{dev['backward_compute']:.1%}, communication {dev['communication']:.1%} "
        "(goal ±15 %)." + made_by(r))


def predict_block(r: dict) -> str:
    s = r["summary"]
    groups = ", ".join(f"{g}: {v:.1%}" for g, v in s["mape_by_group"].items())
    worst = sorted(r["points"], key=lambda p: -abs(p["error"]))[:5]
    table = [[p["held_out"], p["model"], p["batch"], p["workers"],
              p["bucket_cap_mb"] if p["bucket_cap_mb"] is not None else "default",
              p["rate_mbit"] or "-", _ms(p["measured_s"]), _ms(p["predicted_s"]),
              f"{p['error']:+.1%}"] for p in worst]
    return (
        f"Calibration (resnet18, N = 2, three batches): allreduce slowdown beside training "
        f"×{s['comm_slowdown']:.1f}, backward's lost share while an allreduce runs "
        f"{s['cpu_steal']:.2f} (calibration MAPE {s['calibration_mape']:.1%})"
        + (": on this machine backward and the allreduce take turns on the cores, so "
           "launching buckets early reorders the work but does not hide it"
           if s["cpu_steal"] >= 0.95 else "") + ". Held out: "
        f"**{s['heldout_points']} configurations, MAPE {s['heldout_mape']:.1%}** (goal ≤ "
        f"20 %); by group: {groups}; worst |error| {s['max_abs_error']:.1%}. The five "
        "largest errors:\n\n"
        + markdown_table(["held out", "model", "batch", "N", "bucket MiB", "Mbit/s",
                          "measured ms", "predicted ms", "error"], table)
        + made_by(r))


def answers_block(r: dict) -> str:
    """The sweep's answers in sentences, each number from the rows."""
    rows = [x for x in r["rows"] if x["impl"] == "ddp" and x["workers"] > 1]
    by_model: dict[str, list[dict]] = {}
    for x in rows:
        by_model.setdefault(x["model"], []).append(x)
    lines = []
    for model, xs in sorted(by_model.items()):
        payload = {x["payload_bytes"] for x in xs}
        small = min(xs, key=lambda x: (x["batch"], -x["workers"]))
        big = max(xs, key=lambda x: (x["batch"], -x["workers"]))
        lines.append(
            f"- **{model}**: {', '.join(f'{b / 1e6:.1f} MB' for b in sorted(payload))} "
            "handed to allreduce per step at every batch and N; communication busy "
            f"{small['comm_busy_s'] / small['iteration_s']:.0%} of the step at batch "
            f"{small['batch']}, N={small['workers']} and "
            f"{big['comm_busy_s'] / big['iteration_s']:.0%} at batch {big['batch']}, "
            f"N={big['workers']}; exposed (not hidden under backward) "
            f"{small['exposed_share']:.0%} and {big['exposed_share']:.0%}.")
    dominated = [x for x in rows if x["comm_busy_s"] > x["forward_s"]
                 + x["backward_compute_s"]]
    lines.append(
        "- Communication time exceeds compute time in "
        + (", ".join(f"{x['model']} b{x['batch']} N{x['workers']}" for x in dominated)
           if dominated else "no configuration of the sweep") + ".")
    return "\n".join(lines) + made_by(r)


def bucketing_block(r: dict) -> str:
    table = [[x["model"], x["batch"], _ms(x["naive_s"]), _ms(x["bucketed_s"]),
              f"{x['saved_ms']:.1f}", f"{x['speedup']:+.1%}"] for x in r["rows"]]
    return (
        f"Naive against bucketed by batch size (N = {r['workers']}, medians of "
        f"{r['repeats']} interleaved repeats, ms per step):\n\n"
        + markdown_table(["model", "batch", "naive", "bucketed", "saved ms", "bucketing"],
                         table) + made_by(r))


BLOCKS: dict[str, tuple[str, Callable[[dict], str]]] = {
    "answers": ("sweep", answers_block),
    "bytes": ("sweep", bytes_block),
    "sweep": ("sweep", sweep_block),
    "comm": ("comm", comm_block),
    "impls": ("impls", impls_block),
    "bucketing": ("bucketing", bucketing_block),
    "timers": ("timers", timers_block),
    "predict": ("predict", predict_block),
}
SCRIPTS = {"sweep": "sweep.py then analyze.py", "comm": "comm.py", "impls": "impls.py",
           "bucketing": "bucketing.py",
           "timers": "timers.py", "predict": "predict.py"}


def main() -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    blocks = {name: render(results[key]) if key in results
              else f"(not measured: run benchmarks/train/{SCRIPTS[key]})"
              for name, (key, render) in BLOCKS.items()}
    regenerate_doc(DOC, blocks)


if __name__ == "__main__":
    main()
