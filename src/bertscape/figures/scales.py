"""Backend-neutral scales and labels of the figures (the 2D figures and the 3D views share them).

Colour scales (Figures 1, 3, 4, 6, 7)
    Shared per column (Figures 1, 3, 4, 6: scratch and fine-tune of one task are comparable) or per
    row (Figure 7: the layer groups of one task). Loss metrics use a logarithmic scale when all
    finite values are positive and span more than a factor of 10, and are clipped at the
    ``clip_quantile`` (default 0.98) quantile of the finite values; bounded metrics (``*_acc``,
    ``*_error``) use a linear scale over their full finite range. Darker means smaller (viridis).
    Values beyond the scale are drawn in the end colour and the colour bar gets an arrow.
    Non-finite values at evaluated points (diverged loss: NaN/Inf) are drawn as the *worst* end of
    the scale (top for losses and errors, bottom for accuracies), marked with red ``x`` markers and
    counted in a note inside the panel ("N non-finite (x)"). Points a shard never evaluated
    (``done`` false) are left blank and counted as "N not evaluated".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
from matplotlib import colors as mcolors

if TYPE_CHECKING:  # only for annotations: importing h5io pulls in torch via io
    from ..h5io import Grid


INIT_ORDER = ("scratch", "finetune")
INIT_LABEL = {"scratch": "scratch", "finetune": "fine-tune"}
INIT_LONG = {"scratch": "training from scratch", "finetune": "fine-tuning BERT"}
INIT_COLOR = {"finetune": "#1f5fa8", "scratch": "#c8372d"}
INIT_LINESTYLE = {"finetune": "-", "scratch": "--"}
GROUP_ORDER = ("low", "mid", "middle", "high")
GROUP_LABEL = {"low": "low", "mid": "middle", "middle": "middle", "high": "high"}
METRIC_LABEL = {
    "train_loss": "training loss",
    "train_acc": "training accuracy",
    "dev_loss": "dev loss",
    "dev_error": "generalization error (dev, 1 − acc)",
}
ALPHA_LABEL = r"$\alpha$  ($\delta_1$)"
BETA_LABEL = r"$\beta$  ($\delta_2$)"
NONFINITE_COLOR = "#ff2d2d"



def ordered(keys, preferred: Sequence[str] = ()) -> list[str]:
    keys = list(dict.fromkeys(keys))
    return [k for k in preferred if k in keys] + [k for k in keys if k not in preferred]



def metric_label(metric: str, grids=()) -> str:
    """The colour bar's label. Grids written for a regression task say so in their attrs (``loss``: MSE,
    ``dev_error_is``: 1 − Pearson r): the label then names the task's own loss and error."""
    label = METRIC_LABEL.get(metric, metric.replace("_", " "))
    attrs = [getattr(g, "attrs", None) or {} for g in grids]
    err = sorted({str(a["dev_error_is"]) for a in attrs if a.get("dev_error_is")})
    loss = sorted({str(a["loss"]) for a in attrs if a.get("loss")})
    if metric == "dev_error" and err and err != ["1 − acc"]:
        label = f"generalization error (dev, {' / '.join(err)})"
    if metric.endswith("_loss") and loss and loss != ["cross-entropy"]:
        label = f"{label} ({' / '.join(loss)})"
    return label



def higher_is_better(metric: str) -> bool:
    return "acc" in metric



def bounded(metric: str) -> bool:
    return "acc" in metric or "error" in metric



@dataclass(frozen=True)
class Scale:
    lo: float
    hi: float
    log: bool
    levels: np.ndarray
    extend: str
    metric: str

    @property
    def norm(self) -> mcolors.Normalize:
        return mcolors.LogNorm(self.lo, self.hi) if self.log else mcolors.Normalize(self.lo, self.hi)

    @property
    def over(self) -> float:  # a value drawn in the top end colour
        return self.hi * 10.0 if self.log else self.hi + (self.hi - self.lo)

    @property
    def under(self) -> float:
        return self.lo / 10.0 if self.log else self.lo - (self.hi - self.lo)



def scale(fields: list[tuple[np.ndarray, np.ndarray]], metric: str, st: dict,
           full: list[tuple[np.ndarray, np.ndarray]] | None = None) -> Scale:
    """One colour scale for several (values, evaluated-mask) fields.

    The range comes from ``fields``; whether values fall beyond it (colour bar arrows, and the
    contourf ``extend`` that fills them) is judged on ``full`` (default: ``fields``), so a zoomed
    view can take its range from the visible points and still fill the rest of the grid.
    """
    def values(fs):
        return np.concatenate([v[d].ravel() for v, d in fs]) if fs else np.zeros(0)

    allv = values(fields)
    finite = allv[np.isfinite(allv)]
    everything = values(full) if full is not None else allv
    n_nonfinite = int((~np.isfinite(everything)).sum())
    log = False
    if finite.size == 0:
        lo, hi = 0.0, 1.0
    else:
        lo = float(finite.min())
        hi = float(finite.max()) if bounded(metric) else float(np.quantile(finite, st["clip_quantile"]))
        log = not bounded(metric) and lo > 0 and hi / lo > 10.0
        if not hi > lo:  # constant field: widen so the levels increase
            pad = max(abs(lo) * 0.05, 1e-3)
            lo, hi = lo - pad, hi + pad
    n = st["levels"]
    levels = np.geomspace(lo, hi, n + 1) if log else np.linspace(lo, hi, n + 1)
    efin = everything[np.isfinite(everything)]
    over = bool((efin > hi).any()) or (n_nonfinite > 0 and not higher_is_better(metric))
    under = bool((efin < lo).any()) or (n_nonfinite > 0 and higher_is_better(metric))
    extend = {(True, True): "both", (True, False): "max", (False, True): "min"}.get((over, under), "neither")
    return Scale(lo, hi, log, levels, extend, metric)



def shared_scale(named: list[tuple[Grid, str]], metric: str, st: dict) -> tuple[Scale, bool]:
    """One colour scale over several surfaces ``(grid, where)``, and whether any has non-finite values."""
    fields, nonfinite = [], False
    for g, where in named:
        _, _, v, done = field(g, metric, where)
        fields.append((v, done))
        nonfinite |= bool((~np.isfinite(v) & done).any())
    return scale(fields, metric, st), nonfinite


def field(grid: Grid, metric: str, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(alpha, beta, values[A, B], done[A, B]) with both axes sorted increasingly."""
    if grid.beta is None:
        raise ValueError(f"{where}: expected a 2D surface, got a 1D curve")
    if metric not in grid.values:
        raise ValueError(f"{where}: metric {metric!r} not in grid (has {sorted(grid.values)})")
    a = np.asarray(grid.alpha, dtype=float)
    b = np.asarray(grid.beta, dtype=float)
    v = np.asarray(grid.values[metric], dtype=float)
    if v.shape != (len(a), len(b)):
        raise ValueError(f"{where}: {metric} has shape {v.shape}, expected {(len(a), len(b))}")
    done = np.asarray(grid.done, dtype=bool) if grid.done is not None else np.ones(v.shape, bool)
    if done.shape != v.shape:
        done = np.ones(v.shape, bool)
    ia, ib = np.argsort(a, kind="stable"), np.argsort(b, kind="stable")
    return a[ia], b[ib], v[np.ix_(ia, ib)], done[np.ix_(ia, ib)]



def in_view(a, b, v, done, view):
    (x0, x1), (y0, y1) = view
    m = ((a >= x0) & (a <= x1))[:, None] & ((b >= y0) & (b <= y1))[None, :]
    return v, done & m



def anchor_xy(grid: Grid, name: str, default: tuple[float, float]) -> tuple[float, float]:
    d = (grid.anchors or {}).get(name, {})
    x, y = d.get("alpha", default[0]), d.get("beta", default[1])
    x = default[0] if x is None or not np.isfinite(x) else float(x)
    y = default[1] if y is None or not np.isfinite(y) else float(y)
    return x, y



def group_key(name: str, g: Grid):
    layers = (g.attrs or {}).get("layers")
    first = layers[0] if isinstance(layers, (list, tuple)) and layers else math.inf
    known = GROUP_ORDER.index(name) if name in GROUP_ORDER else len(GROUP_ORDER)
    return (first, known, name)



def layers_text(layers) -> str:
    if isinstance(layers, (list, tuple)) and len(layers) == 2:
        return f"{layers[0]}–{layers[1]}"
    if isinstance(layers, (list, tuple)) and layers:
        return ",".join(str(x) for x in layers)
    return ""
