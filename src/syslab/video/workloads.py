"""Clips to run on: the real ones in the shared data, and a synthetic generator."""

from __future__ import annotations

# Synthetic objects are flat, saturated colours over a grey, textured background, one
# colour per class (BGR), so that the colour-blob detector can name them exactly.
OBJECT_COLOURS: dict[str, tuple[int, int, int]] = {
    "car": (40, 40, 220),  # red
    "truck": (220, 60, 40),  # blue
    "bus": (30, 200, 230),  # yellow
    "person": (60, 200, 60),  # green
}
