"""Difference features between two small brightness frames (Reducto's, NoScope's MSE, a histogram).

Each returns how different frame `b` is from frame `a` as one float; a filter sends a frame
when the feature against the last *sent* frame passes a threshold. They run on frames
downscaled to 160 pixels wide (`decode.downscale`), where each costs well under 1 ms.
OpenCV's kernels rather than numpy: `cv2.norm` takes 21 µs where numpy's float MSE takes
816 µs at 640×360 (research/video.md §3). Parameters follow Reducto's `diff_config.ini`
(pixel threshold 21, blur 11, Canny 101/255, Harris block 5 / aperture 3 / k 0.05), with
the blur scaled down with the frame.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

PIXEL_THRESHOLD = 21
BLUR = 3  # Reducto blurs 11 px at full size; 160-px frames are 4-8x smaller
CANNY = (101, 255)
HARRIS = (5, 3, 0.05)
HIST_BINS = 64


def pixel(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pixels whose brightness changed by more than 21 levels."""
    changed = cv2.threshold(cv2.absdiff(a, b), PIXEL_THRESHOLD, 255, cv2.THRESH_BINARY)[1]
    return cv2.countNonZero(changed) / changed.size


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared brightness difference (NoScope's difference detector)."""
    return cv2.norm(a, b, cv2.NORM_L2SQR) / a.size


def area(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the frame covered by changed blobs (blur, threshold, dilate, contours)."""
    d = cv2.absdiff(cv2.GaussianBlur(a, (BLUR, BLUR), 0), cv2.GaussianBlur(b, (BLUR, BLUR), 0))
    mask = cv2.dilate(cv2.threshold(d, PIXEL_THRESHOLD, 255, cv2.THRESH_BINARY)[1], None)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return sum(cv2.contourArea(c) for c in contours) / mask.size


def _edges(g: np.ndarray) -> np.ndarray:
    return cv2.Canny(cv2.GaussianBlur(g, (BLUR, BLUR), 0), *CANNY)


def edge(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pixels that are an edge in one frame and not in the other."""
    return cv2.countNonZero(cv2.bitwise_xor(_edges(a), _edges(b))) / a.size


def _corners(g: np.ndarray) -> np.ndarray:
    h = cv2.cornerHarris(np.float32(g), *HARRIS)
    return (h > 0.01 * max(float(h.max()), 1e-12)).astype(np.uint8)


def corner(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pixels that are a Harris corner in one frame and not in the other."""
    return cv2.countNonZero(cv2.bitwise_xor(_corners(a), _corners(b))) / a.size


def hist(a: np.ndarray, b: np.ndarray) -> float:
    """Chi-square distance between 64-bin brightness histograms (normalised)."""
    ha = cv2.calcHist([a], [0], None, [HIST_BINS], [0, 256])
    hb = cv2.calcHist([b], [0], None, [HIST_BINS], [0, 256])
    cv2.normalize(ha, ha, 1.0, 0.0, cv2.NORM_L1)
    cv2.normalize(hb, hb, 1.0, 0.0, cv2.NORM_L1)
    return float(cv2.compareHist(ha, hb, cv2.HISTCMP_CHISQR))


FEATURES: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "pixel": pixel, "mse": mse, "area": area, "edge": edge, "corner": corner, "hist": hist,
}
