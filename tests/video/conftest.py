"""Shared by the video tests: one small synthetic clip, written once per session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from syslab.video.decode import write_video
from syslab.video.workloads import SyntheticTruth, synthesize, truth_path

# Small enough that every test file stays fast: 4 s at 10 fps, 320x180, a keyframe
# every 10 frames; seed 3 has objects in view from frame 9 on.
SECONDS, FPS, WIDTH, HEIGHT, SEED, GOP = 4.0, 10.0, 320, 180, 3, 10


@dataclass
class Clip:
    path: Path  # H.264 in MP4
    avi: Path  # the same frames, MPEG-4 Part 2 in AVI (as the highway clip)
    truth: SyntheticTruth
    images: list[np.ndarray]  # the BGR frames as rendered, before encoding


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    folder = tmp_path_factory.mktemp("video")
    truth, frames = synthesize(seconds=SECONDS, fps=FPS, width=WIDTH, height=HEIGHT,
                               seed=SEED)
    images = list(frames)
    path = folder / "synthetic.mp4"
    write_video(path, images, FPS, preset="veryfast", gop=GOP)
    truth.save(truth_path(path))
    avi = folder / "synthetic.avi"
    write_video(avi, images, FPS, codec="mpeg4", gop=GOP)
    return Clip(path=path, avi=avi, truth=truth, images=images)
