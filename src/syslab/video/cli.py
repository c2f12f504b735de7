"""`syslab video …`: filter frames before the detector, and measure what it costs and keeps.

Every flag is checked before any decoding starts: a typo costs one line on stderr (a
`UserError`, exit code 2), never a traceback after a minute of detector time. Heavy
modules (PyAV, OpenCV, torch) are imported inside the commands so `syslab --help` stays
fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from syslab.common.errors import UserError

app = typer.Typer(no_args_is_help=True,
                  help="Video analytics: skip redundant and empty frames before the detector.")

DEFAULT_FILTERS = "uniform,diff-pixel,adaptive,empty,cascade,ours"
VIDEO = typer.Option(..., "--video", "-v",
                     help="A video file, or a clip name from the shared data (highway, person, "
                          "car-overhead).")
QUERY = typer.Option(None, "--query", "-q",
                     help="presence:CLASSES, count:CLASSES or boxes:CLASSES (COCO names, comma "
                          "separated, or 'any'); default: the clip's own query.")
TARGET = typer.Option(0.9, "--target", "-t", help="Accuracy each filter must keep (0-1].")
FILTERS = typer.Option(DEFAULT_FILTERS, "--filter", "-f",
                       help="Comma-separated filters (syslab video filters); '+gap' adds the "
                            "max-gap guard.")
DETECTOR = typer.Option("auto", "--detector", "-d",
                        help="Reference detector: yolo-fastest-xl, yolo-fastest, fastestdet, "
                             "blobs; auto = blobs for generated clips, else yolo-fastest-xl.")
PROFILE = typer.Option(0.2, "--profile", help="Share of the clip filters learn on (the rest is "
                                               "scored).")
SMOOTH = typer.Option(9, "--smooth", help="Frames in the reference's running median (1 = raw).")


def _console() -> Console:
    return Console(width=max(Console().width, 120))


def split_list(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def check_target(target: float) -> float:
    if not 0.0 < target <= 1.0:
        raise UserError(f"target accuracy must be in (0, 1], got {target}")
    return target


def check_fraction(fraction: float) -> float:
    if not 0.0 < fraction < 1.0:
        raise UserError(f"profile share must be in (0, 1), got {fraction}")
    return fraction


def check_smooth(window: int) -> int:
    if window < 1 or window % 2 == 0:
        raise UserError(f"smoothing window must be an odd number of frames >= 1, got {window}")
    return window


def check_filters(text: str) -> list[str]:
    from syslab.video.filters import make_filter

    names = split_list(text)
    if not names:
        raise UserError("no filter given")
    for n in names:
        make_filter(n)  # raises a UserError naming an unknown one
    return names


def resolve_inputs(video: str, query: str | None, detector: str):
    """The clip path, its query and the reference detector, all checked."""
    from syslab.video.detectors import load_detector
    from syslab.video.query import parse_query
    from syslab.video.workloads import CLIPS, resolve_clip, truth_path

    path = resolve_clip(video)
    if detector == "auto":
        detector = "blobs" if truth_path(path).exists() else "yolo-fastest-xl"
    det = load_detector(detector)
    if query is None:
        spec = CLIPS.get(video)
        query = spec.query if spec else "count:car,truck,bus"
    return path, parse_query(query, det.classes), det


def evaluate_filters(path: Path, q, det, names: list[str], target: float, fraction: float,
                     smooth: int, console: Console):
    """Every filter replayed over the clip: (rows, the clip as filters saw it)."""
    from rich.progress import track

    from syslab.video.engine import evaluate, load_clip
    from syslab.video.filters import make_filter

    filters = [make_filter(n) for n in names]
    clip = load_clip(path, det, q, smooth_window=smooth,
                     thumbs=any(f.needs_thumbs for f in filters))
    console.print(f"{path.name}: {len(clip)} frames at {clip.fps:g} fps, query {q}, reference "
                  f"{det.name} ({smooth}-frame median); filters learn on the first "
                  f"{fraction:.0%}, scored on the rest")
    rows = []
    # a cascade trains a CNN: some filters take seconds, so show which one is running
    for name, flt in track(list(zip(names, filters, strict=True)), description="filters",
                           console=console, transient=True):
        r = evaluate(flt, clip, target, fraction)
        r["name"] = name
        rows.append(r)
    return rows, clip


def results_table(title: str, rows: list[dict]):
    from syslab.common.report import Table

    shown = [{"filter": r["name"], "learned": r["filter"], "accuracy": r["accuracy"],
              "filtered": r["fraction_filtered"], "segments ok": r["segments_meeting_target"],
              "CPU ms/frame": r["filter_cpu_ms_per_frame"]} for r in rows]
    return Table(title, list(shown[0]), shown,
                 {"accuracy": ".3f", "filtered": ".3f", "segments ok": ".2f",
                  "CPU ms/frame": ".3f"}).to_rich()


@app.command()
def run(
    video: str = VIDEO, query: str | None = QUERY, target: float = TARGET,
    filter: str = FILTERS, detector: str = DETECTOR, profile: float = PROFILE,
    smooth: int = SMOOTH,
    json_out: Path | None = typer.Option(None, "--json", help="Also write the rows as JSON."),
) -> None:
    """Replay filters over one clip against the reference: accuracy kept, frames filtered."""
    check_target(target)
    check_fraction(profile)
    check_smooth(smooth)
    names = check_filters(filter)
    path, q, det = resolve_inputs(video, query, detector)
    console = _console()
    rows, _ = evaluate_filters(path, q, det, names, target, profile, smooth, console)
    console.print(results_table(f"target accuracy {target:g}", rows))
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(rows, indent=1))


@app.command()
def compare(
    video: str = typer.Option(..., "--video", "-v",
                              help="Comma-separated video files or clip names."),
    query: str | None = QUERY, target: float = TARGET, filter: str = FILTERS,
    detector: str = DETECTOR, profile: float = PROFILE, smooth: int = SMOOTH,
    out: Path = typer.Option(Path("out/video"), "--out", "-o",
                             help="Folder for the plots and results.json."),
) -> None:
    """Filters × clips: tables and accuracy-vs-filtered plots against uniform sampling."""
    from syslab.video.engine import best_uniform_at, uniform_curve
    from syslab.video.plots import OURS, tradeoff

    check_target(target)
    check_fraction(profile)
    check_smooth(smooth)
    names = check_filters(filter)
    inputs = [resolve_inputs(v, query, detector) for v in split_list(video)]
    if not inputs:
        raise UserError("no video given")
    console = _console()
    report = []
    for k, (path, q, det) in enumerate(inputs, 1):
        rows, clip = evaluate_filters(path, q, det, names, target, profile, smooth, console)
        curve = uniform_curve(clip, profile)
        figure = tradeoff(f"{path.stem}: {q}", curve, rows, target,
                          out / f"tradeoff_{k}_{path.stem}")
        console.print(results_table(f"{path.name}, target accuracy {target:g}", rows))
        ours = next((r for r in rows if r["name"] == OURS), None)
        if ours:
            uni = best_uniform_at(curve, ours["accuracy"])
            console.print(f"ours: {ours['fraction_filtered']:.1%} filtered at accuracy "
                          f"{ours['accuracy']:.3f}; best uniform rate at least as accurate: "
                          + (f"1 in {uni['every']}, {uni['fraction_filtered']:.1%} filtered"
                             if uni else "none"))
        console.print(f"[dim]figure: {figure}")
        report.append({"video": str(path), "query": str(q), "rows": rows,
                       "uniform_curve": curve, "figure": str(figure)})
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(report, indent=1))


@app.command()
def filters() -> None:
    """List the frame filters."""
    from syslab.common.report import Table
    from syslab.video.filters import filter_description, filter_names

    rows = [{"filter": n, "what": filter_description(n)} for n in filter_names()]
    _console().print(Table("filters ('+gap' after a name adds the max-gap guard)",
                           ["filter", "what"], rows).to_rich())


@app.command()
def models() -> None:
    """Where the reference detectors' files go, where they come from, and which are here."""
    from syslab.common.report import Table
    from syslab.video.detectors import MODEL_FILES, check_model_file, models_dir

    where = models_dir()
    rows = []
    for det, files in MODEL_FILES.items():
        for f in files:
            rows.append({"detector": det, "file": f.file, "status": check_model_file(where, f),
                         "source": f"{f.source}, {f.path}", "licence": f.licence})
    console = _console()
    console.print(f"models folder: {where} ($SYSLAB_DATA/video/models, else "
                  "../shared/data/video/models)")
    console.print(Table("reference detector files", ["detector", "file", "status", "source",
                                                     "licence"], rows).to_rich())


@app.command()
def generate(
    out: Path = typer.Option(..., "--out", "-o", help="Video file to write (.mp4)."),
    seconds: float = typer.Option(40.0, "--seconds"), fps: float = typer.Option(15.0, "--fps"),
    width: int = typer.Option(640, "--width"), height: int = typer.Option(360, "--height"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Write a synthetic clip (moving objects, idle stretches, bursts) and its exact truth."""
    from syslab.video.workloads import generate as make

    if seconds <= 0 or fps <= 0:
        raise UserError("--seconds and --fps must be positive")
    if width < 64 or height < 64 or width % 2 or height % 2:
        raise UserError("--width and --height must be even and at least 64")
    out.parent.mkdir(parents=True, exist_ok=True)
    truth = make(out, seconds=seconds, fps=fps, width=width, height=height, seed=seed)
    counts = truth.count(["car", "truck", "bus", "person"])
    _console().print(f"wrote {out} ({len(counts)} frames, {(counts == 0).mean():.0%} empty, "
                     f"up to {counts.max()} objects) and its truth beside it")


# --- the two-process pipeline: `serve` (the detector) and `camera` (the filter) ------------


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(0, "--port", "-p", help="TCP port; 0 = any free port (printed)."),
    detector: str = typer.Option("yolo-fastest-xl", "--detector", "-d",
                                 help="The detector to serve: yolo-fastest-xl, yolo-fastest, "
                                      "fastestdet, blobs."),
) -> None:
    """Run the analytics server: answer cameras' frames until SIGTERM or Ctrl-C."""
    from syslab.video.detectors import load_detector
    from syslab.video.server import serve as run_server

    if not 0 <= port <= 65535:
        raise UserError(f"--port must be in 0..65535, got {port}")
    det = load_detector(detector)  # missing model files: one line, before binding

    def announce(bound_host: str, bound_port: int) -> None:
        # Plain print, flushed: scripts read the port from this first line.
        print(f"serving {det.name} on {bound_host}:{bound_port}", flush=True)

    stats = run_server(det, host, port, announce=announce)
    print(f"stopped: {stats.frames} frames from {stats.connections} connections "
          f"({stats.errors} refused), detector CPU {stats.detect_cpu_s:.2f} s", flush=True)


@app.command()
def camera(
    video: str = VIDEO,
    server: str = typer.Option(..., "--server", "-s", help="HOST:PORT of `syslab video serve`."),
    query: str | None = QUERY,
    filter_name: str = typer.Option("ours", "--filter", "-f",
                                     help="The filter the camera runs (syslab video filters)."),
    target: float = TARGET, detector: str = DETECTOR, profile: float = PROFILE,
    smooth: int = SMOOTH,
    pace: bool = typer.Option(True, "--pace/--no-pace",
                              help="Release frames at the clip's rate (a live camera), or as "
                                   "fast as they decode (benchmarks)."),
    jpeg_quality: int = typer.Option(80, "--jpeg-quality",
                                     help="JPEG quality of the frames sent (1..100)."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the report as JSON."),
) -> None:
    """Be the camera: filter a clip, send chosen frames to a server, report cost and accuracy.

    The report: bytes sent, CPU on both sides, the lag and the live accuracy."""
    import sys

    from syslab.common.report import Table
    from syslab.video.camera import REPORT_FORMATS, CameraStopped, parse_address, run_camera

    check_target(target)
    check_fraction(profile)
    check_smooth(smooth)
    names = check_filters(filter_name)
    if len(names) != 1:
        raise UserError(f"a camera runs one filter, got {len(names)}: {filter_name}")
    host, port = parse_address(server)
    path, q, det = resolve_inputs(video, query, detector)
    console = _console()

    def show(report: dict) -> None:
        rows = [{"metric": key, "value": format(value, REPORT_FORMATS[key])
                 if key in REPORT_FORMATS and isinstance(value, float) else str(value)}
                for key, value in report.items() if value is not None]
        console.print(Table(f"camera {report['clip']} -> {server}, {report['filter']}",
                            ["metric", "value"], rows).to_rich())
        if json_out:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(report, indent=1))

    try:
        run = run_camera(path, host, port, q, det, names[0], target=target, pace=pace,
                         smooth=smooth, fraction=profile, progress=sys.stderr.isatty(),
                         jpeg_quality=jpeg_quality)
    except CameraStopped as stop:
        show(stop.run.report)  # what was done before the server went away, then the error
        raise
    show(run.report)
