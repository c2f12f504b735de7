"""NoScope's cascade: a difference detector, then a tiny specialised CNN, then the detector.

NoScope (VLDB'17) trains, per video and query, a small CNN on the reference's labels and
lets it settle the frames it is sure about: above a high confidence it answers itself,
and only the frames in between go to the full detector. Here the CNN (plain torch: three
3×3 convolutions on a 64×36 colour thumbnail) is trained on the profile (the first part
of the clip) to predict the reference's answer: present or not for a presence query, the
count (capped at the profile's largest) for a count query. Its confidence threshold is
calibrated on the last quarter of the profile, held out from training: the lowest
threshold at which the frames it would settle agree with the reference at least
`agreement` of the time. In front of it, as in NoScope, a difference detector against an
earlier frame: a frame that barely changed (MSE against the last frame that reached the
CNN or the detector) reuses the last answer. NoScope's other difference detector, against
a reference image of the empty scene, is the empty-scene filter: the `cascade` filter
(`filters.make_filter`) is `EmptyScene(inner=Cascade())`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from syslab.video.features import mse
from syslab.video.filters.base import REUSE, SEND, Decision, Filter, Profile, Thumb, resolve


class TinyCNN(nn.Module):
    def __init__(self, classes: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def labels_for(kind: str, answers: np.ndarray) -> np.ndarray:
    """The CNN's classes: present or not for a presence query, else the count itself."""
    return (answers > 0).astype(np.int64) if kind == "presence" else answers.astype(np.int64)


def to_tensor(thumbs: np.ndarray) -> torch.Tensor:
    """(n, h, w, 3) uint8 → (n, 3, h, w) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(thumbs)).permute(0, 3, 1, 2).float() / 255.0


class Cascade(Filter):
    name = "cascade"
    description = "NoScope: MSE difference detector, then a tiny CNN trained on the profile"
    needs_thumbs = True

    def __init__(self, agreement: float = 0.99, epochs: int = 60, diff_mse: float = 4.0,
                 seed: int = 0):
        self.agreement = agreement
        self.epochs = epochs
        self.diff_mse = diff_mse  # below this MSE against the last checked frame: reuse
        self.seed = seed
        self.model: TinyCNN | None = None
        self.confidence = 1.1  # above 1: never settle (nothing learned)
        self.classes = 1

    def fit(self, profile: Profile) -> None:
        if profile.thumbs is None:
            raise ValueError("the cascade needs colour thumbnails in the profile")
        y = labels_for(profile.kind, profile.labels)
        self.classes = int(y.max()) + 1
        n = len(y)
        cut = max(1, int(n * 0.75))
        if self.classes < 2 or cut >= n:
            return  # one answer only, or nothing to calibrate on: send everything
        model = self.train(profile.thumbs[:cut], y[:cut], self.classes)
        with torch.no_grad():
            p = torch.softmax(model(to_tensor(profile.thumbs[cut:])), dim=1).numpy()
        conf, pred = p.max(axis=1), p.argmax(axis=1)
        right = pred == y[cut:]
        # the lowest confidence at which the settled frames still agree often enough
        self.confidence = 1.1
        for c in np.sort(np.unique(conf))[::-1]:
            settled = conf >= c
            if right[settled].mean() >= self.agreement:
                self.confidence = float(c)
            else:
                break
        self.model = model

    def train(self, thumbs: np.ndarray, y: np.ndarray, classes: int | None = None) -> TinyCNN:
        """A fresh CNN fitted to the answers `y` of `thumbs` (classes 0 .. y.max() unless
        `classes` says more)."""
        torch.manual_seed(self.seed)
        classes = classes or int(y.max()) + 1
        x, yt = to_tensor(thumbs), torch.from_numpy(y.astype(np.int64))
        model = TinyCNN(classes)
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        # balance the classes: a clip that is mostly empty must not teach "always empty"
        counts = torch.bincount(yt, minlength=classes).float()
        weight = torch.where(counts > 0, counts.sum() / (counts * classes), 0.0)
        loss_fn = nn.CrossEntropyLoss(weight=weight)
        model.train()
        for _ in range(self.epochs):
            for b in torch.randperm(len(yt)).split(32):
                opt.zero_grad()
                loss_fn(model(x[b]), yt[b]).backward()
                opt.step()
        model.eval()
        return model

    def reset(self) -> None:
        self.last: np.ndarray | None = None
        torch.set_num_threads(1)  # one core per camera process (and the replay)

    def decide(self, index: int, small: np.ndarray, thumb: Thumb = None) -> Decision:
        if self.last is not None and mse(self.last, small) < self.diff_mse:
            return REUSE
        self.last = small
        if self.model is None or thumb is None or self.confidence > 1.0:
            return SEND  # (a CNN that can never be confident enough is not worth running)
        with torch.no_grad():
            p = torch.softmax(self.model(to_tensor(resolve(thumb)[None])), dim=1)[0].numpy()
        if p.max() >= self.confidence:
            return Decision(False, int(p.argmax()))
        return SEND

    def describe(self) -> str:
        c = "never settles" if self.confidence > 1 else f"settles at p≥{self.confidence:.3f}"
        return f"cascade({self.classes} classes, CNN {c})"
