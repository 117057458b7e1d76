"""``cnn``: a personal convolutional network on eye patches, trained from the calibration images on CPU.

The "mini training" of seed 004: a small network is fitted to one person's calibration images in
seconds. No pretrained gaze weights are available offline, so the network starts from random weights
(seeded) and is kept small: two 36x60 grey eye patches (:func:`~gazescope.calibration.features.eye_patches`,
MPIIGaze-style normalisation, Zhang et al. CVPR 2015) through three 3x3 conv/pool stages (16-32-32
channels, about 45k weights) and a 32-unit layer, *plus* a linear path from the landmark features
(iris x, iris y, upper lid: what the ``ridge`` mapper uses). The linear path carries the landmark signal
from the first step; the convolutional path learns a correction from the eye images. Training: Adam
(Kingma & Ba 2015), weight decay, full batch, with augmentation (±2 px shifts, brightness and contrast
jitter, pixel noise) because 9-16 images are far too few for a CNN; it stops after ``epochs`` or
``time_budget_s`` (default 20 s on one CPU core), whichever comes first, or as soon as ``should_stop()``
returns True (checked every epoch: the service's cancel flag and time limit).

Honest expectation: with one calibration session of 16 images and no pretraining, the CNN does not beat
the landmark ridge on webcam_dots (see the evaluation figures in the project report); it exists for
seed 004's workflow and as the place to load pretrained weights when a licence-clean set exists.

Needs PyTorch (``pip install 'gazescope[cnn]'``); without it :class:`CnnMapper` raises
:class:`~gazescope.errors.ConfigurationError`. Weights are stored as JSON lists (never pickle).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from gazescope.calibration.features import N_FEATURES, PATCH_H, PATCH_W, feature_index
from gazescope.calibration.mappers.base import Mapper, register_mapper
from gazescope.errors import CalibrationError, ConfigurationError, FitStoppedError, ValidationError

LANDMARK_FEATURES: tuple[str, ...] = ("iris_x", "iris_y", "lid_upper_y")


def _torch():
    try:
        import torch
    except ImportError as exc:
        raise ConfigurationError(
            "the 'cnn' mapper needs PyTorch, which is not installed: pip install 'gazescope[cnn]'"
        ) from exc
    return torch


def _build_net(torch: Any, n_lm: int) -> Any:
    nn = torch.nn

    class EyeNet(nn.Module):  # type: ignore[name-defined]  # torch is imported lazily (optional extra)
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Sequential(
                nn.Conv2d(2, 16, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),  # 18x30
                nn.Conv2d(16, 32, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),  # 9x15
                nn.Conv2d(32, 32, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),  # 4x7
            )
            self.fc = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(32 * 4 * 7, 32), nn.ReLU())
            self.head = nn.Linear(32, 2)
            self.lin = nn.Linear(n_lm, 2)

        def forward(self, patches: Any, lm: Any) -> Any:
            return self.lin(lm) + self.head(self.fc(self.conv(patches)))

    return EyeNet()


def warm_up() -> None:
    """One forward, backward and Adam step of the network on zeros: the first Adam step of a process
    imports and initialises parts of PyTorch for about a second (holding the interpreter lock), which a
    service does once at start rather than inside a client's fit.

    Raises:
        ConfigurationError: PyTorch is not installed.
    """
    t = _torch()
    net = _build_net(t, len(LANDMARK_FEATURES))
    opt = t.optim.Adam(net.parameters(), lr=1e-3)
    net(t.zeros(2, 2, PATCH_H, PATCH_W), t.zeros(2, len(LANDMARK_FEATURES))).sum().backward()
    opt.step()


@register_mapper("cnn")
class CnnMapper(Mapper):
    """Personal CNN on eye patches + landmark features (see the module docstring).

    Args:
        epochs: most training epochs (full batch).
        time_budget_s: wall-clock limit of training in seconds.
        lr: Adam learning rate. weight_decay: L2 penalty. seed: torch seed (reproducible fits).

    Raises:
        ConfigurationError: PyTorch is not installed (``pip install 'gazescope[cnn]'``).
        NotEnoughDataError (from fit): fewer than 9 distinct calibration points.
    """

    min_points = 9
    needs_patches = True

    def __init__(
        self,
        epochs: int = 300,
        time_budget_s: float = 20.0,
        lr: float = 3e-3,
        weight_decay: float = 1e-3,
        seed: int = 0,
    ) -> None:
        self._t = _torch()
        self.epochs = int(epochs)
        self.time_budget_s = float(time_budget_s)
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.seed = int(seed)
        self._lm_idx = feature_index(LANDMARK_FEATURES)
        self._net: Any = None
        self._norm: dict[str, list[float]] | None = None
        self.train_info: dict[str, float] = {}

    def _inputs(self, X: np.ndarray) -> tuple[Any, Any]:
        assert self._norm is not None
        t = self._t
        lm = (X[:, self._lm_idx] - np.asarray(self._norm["lm_mean"])) / np.asarray(self._norm["lm_scale"])
        patches = X[:, N_FEATURES:].reshape(-1, 2, PATCH_H, PATCH_W)
        patches = (patches - 0.5) / 0.25
        return t.as_tensor(patches, dtype=t.float32), t.as_tensor(lm, dtype=t.float32)

    def fit(self, X: np.ndarray, Y_px: np.ndarray, sample_weight: np.ndarray | None = None) -> CnnMapper:
        if sample_weight is not None:
            raise ValidationError("the cnn mapper does not take sample weights")
        X, Y = self._check_xy(X, Y_px)
        t = self._t
        t.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        lm = X[:, self._lm_idx]
        lm_scale = lm.std(axis=0)
        lm_scale[lm_scale < 1e-9] = 1.0
        y_scale = Y.std(axis=0)
        y_scale[y_scale < 1e-9] = 1.0
        self._norm = {
            "lm_mean": lm.mean(axis=0).tolist(),
            "lm_scale": lm_scale.tolist(),
            "y_mean": Y.mean(axis=0).tolist(),
            "y_scale": y_scale.tolist(),
        }
        patches, lm_t = self._inputs(X)
        target = t.as_tensor((Y - Y.mean(axis=0)) / y_scale, dtype=t.float32)
        net = _build_net(t, len(self._lm_idx))
        opt = t.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        start = time.monotonic()
        net.train()
        loss_v = float("nan")
        epoch = 0
        for epoch in range(1, self.epochs + 1):
            # augmentation: shifts, brightness/contrast, noise (fresh each epoch)
            dx, dy = (int(v) for v in rng.integers(-2, 3, size=2))
            p = t.roll(patches, shifts=(dy, dx), dims=(2, 3))
            gain = t.as_tensor(rng.uniform(0.8, 1.2, size=(len(X), 1, 1, 1)), dtype=t.float32)
            bias = t.as_tensor(rng.normal(0, 0.2, size=(len(X), 1, 1, 1)), dtype=t.float32)
            p = p * gain + bias + 0.1 * t.randn_like(p)
            lm_aug = lm_t + 0.05 * t.randn_like(lm_t)
            opt.zero_grad()
            loss = t.nn.functional.smooth_l1_loss(net(p, lm_aug), target)
            loss.backward()
            opt.step()
            loss_v = float(loss.detach())
            if time.monotonic() - start > self.time_budget_s:
                break
            if self.should_stop is not None and self.should_stop():
                raise FitStoppedError(f"the cnn fit was stopped after {epoch} epochs")
        net.eval()
        self._net = net
        self.train_info = {"epochs": float(epoch), "train_s": time.monotonic() - start, "final_loss": loss_v}
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Screen points (n, 2) in px, unclipped. Raises CalibrationError when not fitted."""
        if self._net is None or self._norm is None:
            raise CalibrationError("the cnn mapper is not fitted")
        X = self._check_x(X)
        t = self._t
        patches, lm = self._inputs(X)
        with t.no_grad():
            out = self._net(patches, lm).numpy().astype(np.float64)
        return out * np.asarray(self._norm["y_scale"]) + np.asarray(self._norm["y_mean"])

    def to_dict(self) -> dict[str, Any]:
        weights = None
        if self._net is not None:
            weights = {
                k: {"shape": list(v.shape), "data": np.round(v.detach().numpy().ravel(), 7).tolist()}
                for k, v in self._net.state_dict().items()
            }
        return {
            "name": self.name,
            "epochs": self.epochs,
            "time_budget_s": self.time_budget_s,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "seed": self.seed,
            "norm": self._norm,
            "weights": weights,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CnnMapper:
        m = cls(d["epochs"], d["time_budget_s"], d["lr"], d["weight_decay"], d["seed"])
        m._norm = d.get("norm")
        w = d.get("weights")
        if w is not None:
            t = m._t
            net = _build_net(t, len(m._lm_idx))
            try:
                state = {
                    k: t.as_tensor(np.asarray(v["data"], dtype=np.float32).reshape(v["shape"]))
                    for k, v in w.items()
                }
                net.load_state_dict(state)
            except (KeyError, ValueError, RuntimeError) as exc:
                raise CalibrationError(f"malformed cnn weights: {exc}") from exc
            net.eval()
            m._net = net
        return m
