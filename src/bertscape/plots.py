"""Figures 1-7 and Table 1 of Hao et al. (2019) from landscape grids.

Every ``fig_*`` function is pure: it takes data and a ``style`` dict and returns a new
:class:`matplotlib.figure.Figure` on an Agg canvas. Figures are not registered with pyplot and no
rcParams are changed, so nothing global is touched; every font size is passed explicitly so the
output does not depend on the caller's rcParams. :func:`save_figure` writes PNG / PDF / SVG
atomically and byte-reproducibly, with a provenance JSON string embedded in the file metadata.

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

Style keys (all optional): ``cmap`` ("viridis"), ``dpi`` (150), ``levels`` (30),
``figsize_per_panel`` ((3.2, 2.8) inches), ``font_size`` (9), ``clip_quantile`` (0.98),
``curve_norm`` ("ratio": f(a)/f(1) on a log axis, or "minmax": (f-min)/(max-min) over a in
[-4, 4]), ``traj_view`` ("auto": zoom to the trajectory, or "grid": the whole grid), ``smooth``
(running-mean window of Figure 2 in epochs, default 0.25; 0 turns it off). Unknown keys are
ignored so a larger config section can be passed as is.
"""

from __future__ import annotations

import json
import math
import os
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib import colors as mcolors
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure
from matplotlib.layout_engine import PlaceHolderLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogFormatter, LogLocator, MaxNLocator, NullFormatter

from .io import atomic_path

if TYPE_CHECKING:  # only for annotations: importing h5io pulls in torch via io
    from .h5io import Grid

__all__ = [
    "STYLE_DEFAULTS",
    "fig_surfaces",
    "fig_training_curves",
    "fig_trajectories",
    "fig_curves",
    "fig_layers",
    "table1",
    "save_figure",
]

STYLE_DEFAULTS: dict[str, Any] = {
    "cmap": "viridis",
    "dpi": 150,
    "levels": 30,
    "figsize_per_panel": (3.2, 2.8),
    "font_size": 9.0,
    "clip_quantile": 0.98,
    "curve_norm": "ratio",
    "traj_view": "auto",
    "smooth": None,
}

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
_STROKE = [patheffects.withStroke(linewidth=2.6, foreground="black")]


# ----------------------------------------------------------------------------------------- style


def _style(style: Mapping[str, Any] | None) -> dict[str, Any]:
    st = dict(STYLE_DEFAULTS)
    st.update({k: v for k, v in (style or {}).items() if v is not None and k in STYLE_DEFAULTS})
    cmap = st["cmap"]
    st["cmap"] = cmap.copy() if isinstance(cmap, mcolors.Colormap) else matplotlib.colormaps[str(cmap)]
    st["dpi"] = float(st["dpi"])
    st["levels"] = int(st["levels"])
    st["font_size"] = float(st["font_size"])
    st["clip_quantile"] = float(st["clip_quantile"])
    w, h = (float(x) for x in st["figsize_per_panel"])
    st["figsize_per_panel"] = (w, h)
    if st["dpi"] <= 0 or st["levels"] < 2 or w <= 0 or h <= 0 or st["font_size"] <= 0:
        raise ValueError(f"invalid style: {style!r}")
    if not 0.5 <= st["clip_quantile"] <= 1.0:
        raise ValueError(f"style clip_quantile must be in [0.5, 1], got {st['clip_quantile']}")
    if st["curve_norm"] not in ("ratio", "minmax"):
        raise ValueError(f"style curve_norm must be 'ratio' or 'minmax', got {st['curve_norm']!r}")
    if st["traj_view"] not in ("auto", "grid"):
        raise ValueError(f"style traj_view must be 'auto' or 'grid', got {st['traj_view']!r}")
    return st


def _new_figure(st: dict, ncols: int, nrows: int, extra_w: float = 0.0, extra_h: float = 0.0) -> Figure:
    w, h = st["figsize_per_panel"]
    fig = Figure(figsize=(w * ncols + extra_w, h * nrows + extra_h), dpi=st["dpi"], layout="constrained")
    FigureCanvasAgg(fig)
    fig.get_layout_engine().set(w_pad=0.04, h_pad=0.04, wspace=0.03, hspace=0.03)
    return fig


def _fs(st: dict, what: str) -> float:
    f = st["font_size"]
    return {"title": f, "label": f, "tick": 0.85 * f, "note": 0.75 * f, "suptitle": 1.15 * f, "legend": 0.85 * f}[what]


def _style_axes(ax, st: dict) -> None:
    ax.tick_params(labelsize=_fs(st, "tick"))  # stored on the axis: applies to ticks created at draw time


def _note(ax, lines: list[str], st: dict, corner: str = "upper left") -> None:
    if lines:
        y, va = (0.98, "top") if corner == "upper left" else (0.02, "bottom")
        ax.text(0.02, y, "\n".join(lines), transform=ax.transAxes, ha="left", va=va,
                fontsize=_fs(st, "note"), zorder=20,
                bbox=dict(boxstyle="round,pad=0.2", facecolor="white", edgecolor="0.5", alpha=0.85, linewidth=0.5))


def _empty_panel(ax, text: str, st: dict) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("0.93")
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=_fs(st, "label"), color="0.3")


def _ordered(keys, preferred: Sequence[str] = ()) -> list[str]:
    keys = list(dict.fromkeys(keys))
    return [k for k in preferred if k in keys] + [k for k in keys if k not in preferred]


def _metric_label(metric: str, grids=()) -> str:
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


def _higher_is_better(metric: str) -> bool:
    return "acc" in metric


def _bounded(metric: str) -> bool:
    return "acc" in metric or "error" in metric


# ----------------------------------------------------------------------------------- colour scale


@dataclass(frozen=True)
class _Scale:
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


def _scale(fields: list[tuple[np.ndarray, np.ndarray]], metric: str, st: dict,
           full: list[tuple[np.ndarray, np.ndarray]] | None = None) -> _Scale:
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
        hi = float(finite.max()) if _bounded(metric) else float(np.quantile(finite, st["clip_quantile"]))
        log = not _bounded(metric) and lo > 0 and hi / lo > 10.0
        if not hi > lo:  # constant field: widen so the levels increase
            pad = max(abs(lo) * 0.05, 1e-3)
            lo, hi = lo - pad, hi + pad
    n = st["levels"]
    levels = np.geomspace(lo, hi, n + 1) if log else np.linspace(lo, hi, n + 1)
    efin = everything[np.isfinite(everything)]
    over = bool((efin > hi).any()) or (n_nonfinite > 0 and not _higher_is_better(metric))
    under = bool((efin < lo).any()) or (n_nonfinite > 0 and _higher_is_better(metric))
    extend = {(True, True): "both", (True, False): "max", (False, True): "min"}.get((over, under), "neither")
    return _Scale(lo, hi, log, levels, extend, metric)


def _field(grid: Grid, metric: str, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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


def _in_view(a, b, v, done, view):
    (x0, x1), (y0, y1) = view
    m = ((a >= x0) & (a <= x1))[:, None] & ((b >= y0) & (b <= y1))[None, :]
    return v, done & m


def _draw_surface(ax, grid: Grid, metric: str, sc: _Scale, st: dict, where: str):
    """Filled contours of one surface; returns the mappable (or None when nothing is drawable)."""
    a, b, v, done = _field(grid, metric, where)
    nonfin = ~np.isfinite(v) & done
    missing = ~done
    z = v.copy()
    z[nonfin] = sc.under if _higher_is_better(metric) else sc.over
    z = np.ma.masked_array(z, mask=missing)
    mappable = None
    if not missing.all():
        if min(z.shape) >= 2:
            mappable = ax.contourf(a, b, z.T, levels=sc.levels, norm=sc.norm, cmap=st["cmap"], extend=sc.extend,
                                   zorder=1)
            # a few thin iso-lines for structure
            ax.contour(a, b, z.T, levels=sc.levels[::5], norm=sc.norm, colors="k", linewidths=0.25, alpha=0.35,
                       zorder=2)
        else:
            mappable = ax.pcolormesh(a, b, z.T, norm=sc.norm, cmap=st["cmap"], shading="nearest", zorder=1)
    notes = []
    if nonfin.any():
        A, B = np.meshgrid(a, b, indexing="ij")
        ax.plot(A[nonfin], B[nonfin], linestyle="none", marker="x", color=NONFINITE_COLOR, markersize=4,
                markeredgewidth=0.9, zorder=11, clip_on=False)
        notes.append(f"{int(nonfin.sum())} non-finite (×)")
    if missing.any():
        notes.append(f"{int(missing.sum())} not evaluated (blank)")
    if not np.isfinite(v[done]).any():
        notes.append("no finite values")
    _note(ax, notes, st)
    ax.set_xlim(a.min(), a.max()) if len(a) > 1 else None
    ax.set_ylim(b.min(), b.max()) if len(b) > 1 else None
    return mappable


def _anchor_xy(grid: Grid, name: str, default: tuple[float, float]) -> tuple[float, float]:
    d = (grid.anchors or {}).get(name, {})
    x, y = d.get("alpha", default[0]), d.get("beta", default[1])
    x = default[0] if x is None or not np.isfinite(x) else float(x)
    y = default[1] if y is None or not np.isfinite(y) else float(y)
    return x, y


_MARKERS = {"dot": dict(marker="o", markersize=6), "star": dict(marker="*", markersize=12)}


def _mark(ax, xy, kind: str, zorder: int = 15) -> None:
    ax.plot([xy[0]], [xy[1]], linestyle="none", markerfacecolor="white", markeredgecolor="black",
            markeredgewidth=1.0, zorder=zorder, clip_on=False, **_MARKERS[kind])


def _marker_handle(kind: str, label: str) -> Line2D:
    return Line2D([], [], linestyle="none", markerfacecolor="white", markeredgecolor="black", markeredgewidth=1.0,
                  label=label, **_MARKERS[kind])


def _nonfinite_handle(label: str = "non-finite (NaN/Inf), drawn at the worst colour") -> Line2D:
    return Line2D([], [], linestyle="none", marker="x", color=NONFINITE_COLOR, markersize=5, markeredgewidth=1.0,
                  label=label)


def _colorbar(fig, mappable, sc: _Scale, axes, st: dict, location: str, label: str):
    if mappable is None:
        mappable = ScalarMappable(norm=sc.norm, cmap=st["cmap"])
    kw = dict(extend=sc.extend) if isinstance(mappable, ScalarMappable) and not hasattr(mappable, "levels") else {}
    cb = fig.colorbar(mappable, ax=axes, location=location, shrink=0.9, aspect=30, pad=0.02, **kw)
    cb.set_label(label + ("  (log scale)" if sc.log else ""), fontsize=_fs(st, "tick"))
    cb.ax.tick_params(labelsize=_fs(st, "note"))
    # fixed ticks inside [lo, hi]: a locator's ticks beyond the range land on the extend arrow
    inside = lambda t: t[(t >= sc.lo * (1 - 1e-9)) & (t <= sc.hi * (1 + 1e-9))]  # noqa: E731
    if sc.log:
        ticks = inside(LogLocator(base=10, numticks=8).tick_values(sc.lo, sc.hi))
        if len(ticks) < 2:  # less than a decade or so: 1-2-5 ticks in plain numbers
            ticks = inside(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=8).tick_values(sc.lo, sc.hi))
            cb.formatter = LogFormatter(labelOnlyBase=False)
        cb.set_ticks(ticks)
        cb.minorlocator = LogLocator(base=10, subs="auto", numticks=12)
        for axis in (cb.ax.xaxis, cb.ax.yaxis):  # matplotlib labels minor log ticks in short ranges: they overlap
            axis.set_minor_formatter(NullFormatter())
    else:
        cb.set_ticks(inside(MaxNLocator(nbins=4 if location in ("bottom", "top") else 6).tick_values(sc.lo, sc.hi)))
    return cb


def _label_axes(ax, st: dict, left: bool, bottom: bool, xl: str = ALPHA_LABEL, yl: str = BETA_LABEL) -> None:
    _style_axes(ax, st)
    if bottom:
        ax.set_xlabel(xl, fontsize=_fs(st, "label"), labelpad=1)
    if left:
        ax.set_ylabel(yl, fontsize=_fs(st, "label"), labelpad=1)


# ----------------------------------------------------------------------------------- Figures 1, 6


def fig_surfaces(grids: Mapping[str, Mapping[str, Grid]], metric: str, style: Mapping | None = None) -> Figure:
    """Figure 1 (``train_loss``) / Figure 6 (``dev_error``): 2D surfaces, one column per task.

    ``grids[init][task]``; rows are inits (scratch on top, fine-tune below, others after), columns
    are tasks in first-seen order. Each column shares one colour scale and one colour bar.
    """
    st = _style(style)
    inits = _ordered([i for i in grids if grids[i]], INIT_ORDER)
    tasks = _ordered([t for i in inits for t in grids[i]])
    if not tasks:
        raise ValueError("fig_surfaces: no grids given")
    nr, nc = len(inits), len(tasks)
    fig = _new_figure(st, nc, nr, extra_h=1.1)
    axes = fig.subplots(nr, nc, squeeze=False)
    any_nonfinite = False
    for c, task in enumerate(tasks):
        present = [(r, init, grids[init][task]) for r, init in enumerate(inits) if task in grids[init]]
        fields = []
        for r, init, g in present:
            _, _, v, done = _field(g, metric, f"{task}/{init}")
            fields.append((v, done))
            any_nonfinite |= bool((~np.isfinite(v) & done).any())
        sc = _scale(fields, metric, st)
        mappable = None
        for r, init in enumerate(inits):
            ax = axes[r, c]
            ax.set_title(f"{task} ({INIT_LABEL.get(init, init)})", fontsize=_fs(st, "title"), pad=3)
            if task not in grids[init]:
                _empty_panel(ax, "no data", st)
                continue
            g = grids[init][task]
            m = _draw_surface(ax, g, metric, sc, st, f"{task}/{init}")
            mappable = mappable or m
            _mark(ax, _anchor_xy(g, "start", (0.0, 0.0)), "dot")
            _mark(ax, _anchor_xy(g, "end", (1.0, 0.0)), "star")
            _label_axes(ax, st, left=c == 0, bottom=r == nr - 1)
        _colorbar(fig, mappable, sc, axes[:, c].tolist(), st, "bottom", _metric_label(metric, [g for _, _, g in present]))
    title = {"train_loss": "Training loss surfaces", "dev_error": "Generalization error surfaces"}.get(
        metric, f"{_metric_label(metric).capitalize()} surfaces")
    rows = " vs ".join(f"{INIT_LONG.get(i, i)} ({pos})" for i, pos in zip(inits, _row_words(nr)))
    handles = [_marker_handle("dot", r"start $\theta_0$"), _marker_handle("star", r"end $\theta_1$")]
    if any_nonfinite:
        handles.append(_nonfinite_handle())
    _finish(fig, st, f"{title}: {rows}", handles)
    return fig


def _finish(fig: Figure, st: dict, title: str, handles: list) -> None:
    """Suptitle and a legend below the panels, both wrapped to the figure's width."""
    width_pt = fig.get_figwidth() * 72.0
    chars = max(20, int(width_pt / (0.55 * _fs(st, "suptitle"))))
    fig.suptitle(textwrap.fill(title, chars), fontsize=_fs(st, "suptitle"))
    if not handles:
        return
    # rough width of each entry: text (mathtext source overestimates a little) plus handle and gaps
    est = sorted((0.52 * _fs(st, "legend") * len(h.get_label()) + 3.2 * _fs(st, "legend") for h in handles),
                 reverse=True)
    ncols = len(handles)
    while ncols > 1 and sum(est[:ncols]) > 0.95 * width_pt:
        ncols -= 1
    fig.legend(handles=handles, loc="outside lower center", ncols=ncols, fontsize=_fs(st, "legend"), frameon=False)


def _row_words(n: int) -> list[str]:
    return ["top", "bottom"] if n == 2 else (["all"] if n == 1 else [f"row {i + 1}" for i in range(n)])


# ----------------------------------------------------------------------------------------- Figure 2


def _running_mean(y: np.ndarray, k: int) -> np.ndarray:
    """Trailing-edge-safe centred running mean ignoring non-finite values."""
    if k <= 1 or len(y) < 3:
        return y.copy()
    ok = np.isfinite(y)
    w = np.ones(k)
    s = np.convolve(np.where(ok, y, 0.0), w, mode="same")
    n = np.convolve(ok.astype(float), w, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def _smooth_window(x: np.ndarray, xkey: str, smooth) -> tuple[int, str | None]:
    """Running-mean window in steps and its legend text; ``smooth`` is in epochs (default 0.25)."""
    ep = 0.25 if smooth is None else float(smooth)
    if ep <= 0 or len(x) < 3:
        return 1, None
    if xkey == "epoch" and x[-1] > x[0]:
        k = int(round(ep * (len(x) - 1) / (x[-1] - x[0])))
        return (k, f"{ep:g} epoch") if k > 1 else (1, None)
    k = max(1, len(x) // 50)  # no epoch positions: about 2 % of the run
    return (k, f"{k} steps") if k > 1 else (1, None)


def fig_training_curves(logs: Mapping[str, Mapping[str, Mapping[str, np.ndarray]]],
                        style: Mapping | None = None) -> Figure:
    """Figure 2: training loss against epoch, one panel per task; fine-tune solid, scratch dashed.

    ``logs[task][init] = {"step", "loss", "epoch"}`` (``epoch`` = float epoch position of each
    step; without it the step is used). Raw per-step losses are drawn faintly, a running mean over
    ``style["smooth"]`` epochs (default 0.25) bold.
    """
    st = _style(style)
    tasks = list(logs)
    if not tasks:
        raise ValueError("fig_training_curves: no logs given")
    fig = _new_figure(st, len(tasks), 1, extra_h=0.6)
    axes = fig.subplots(1, len(tasks), squeeze=False)[0]
    windows = set()
    for c, task in enumerate(tasks):
        ax = axes[c]
        ax.set_title(task, fontsize=_fs(st, "title"), pad=3)
        inits = _ordered(logs[task], ("finetune", "scratch"))
        tops, notes, any_line = [], [], False
        for init in inits:
            d = logs[task][init]
            y = np.asarray(d["loss"], dtype=float).ravel()
            xkey = "epoch" if d.get("epoch") is not None else "step"
            x = np.asarray(d[xkey], dtype=float).ravel()
            if len(x) != len(y):
                raise ValueError(f"fig_training_curves: {task}/{init}: {xkey} and loss lengths differ")
            ok = np.isfinite(x) & np.isfinite(y)
            bad = int((np.isfinite(x) & ~np.isfinite(y)).sum())
            if bad:
                notes.append(f"{INIT_LABEL.get(init, init)}: {bad} non-finite losses")
            if not ok.any():
                continue
            x, yy = x[ok], y[ok]
            k, wlabel = _smooth_window(x, xkey, st["smooth"])
            windows.add(wlabel)
            ys = _running_mean(yy, k)
            color = INIT_COLOR.get(init, "0.3")
            ls = INIT_LINESTYLE.get(init, ":")
            if k > 1:
                ax.plot(x, yy, color=color, linestyle="-", linewidth=0.5, alpha=0.25, zorder=1)
            ax.plot(x, ys, color=color, linestyle=ls, linewidth=1.5, zorder=2)
            tops += [float(np.quantile(yy, 0.995)), float(np.nanmax(ys))]
            any_line = True
        if not any_line:
            _empty_panel(ax, "no finite losses", st)
            continue
        if tops:
            ax.set_ylim(bottom=0.0 if all(t >= 0 for t in tops) else None, top=1.05 * max(tops))
        ax.margins(x=0.01)
        _note(ax, notes, st)
        _label_axes(ax, st, left=c == 0, bottom=True, xl="epoch", yl="training loss")
        ax.grid(True, linewidth=0.3, alpha=0.5)
    handles = [Line2D([], [], color=INIT_COLOR[i], linestyle=INIT_LINESTYLE[i], linewidth=1.5, label=INIT_LONG[i])
               for i in ("finetune", "scratch")]
    windows.discard(None)
    if windows:
        handles.append(Line2D([], [], color="0.5", linewidth=0.5, alpha=0.5,
                              label=f"faint: per step; bold: running mean over {' / '.join(sorted(windows))}"))
    _finish(fig, st, "Training loss of fine-tuning BERT and training from scratch", handles)
    return fig


# ------------------------------------------------------------------------------------- Figures 3, 4


def _traj_points(traj: Mapping[str, np.ndarray], where: str):
    e = np.asarray(traj.get("epoch", np.arange(len(np.asarray(traj["d_alpha"])))), dtype=float).ravel()
    x = np.asarray(traj["d_alpha"], dtype=float).ravel()
    y = np.asarray(traj["d_beta"], dtype=float).ravel()
    if not len(e) == len(x) == len(y):
        raise ValueError(f"{where}: trajectory arrays differ in length ({len(e)}, {len(x)}, {len(y)})")
    ok = np.isfinite(e) & np.isfinite(x) & np.isfinite(y)
    return e[ok], x[ok], y[ok], int((~ok).sum())


def _traj_view(grid: Grid, x: np.ndarray, y: np.ndarray, anchors: list, mode: str):
    ga = np.asarray(grid.alpha, float)
    gb = np.asarray(grid.beta, float)
    g = ((ga.min(), ga.max()), (gb.min(), gb.max()))
    px = np.concatenate([x, [p[0] for p in anchors]])
    py = np.concatenate([y, [p[1] for p in anchors]])
    view = []
    for (gmin, gmax), p in zip(g, (px, py)):
        pmin, pmax = float(p.min()), float(p.max())
        if mode == "grid":
            lo, hi = min(gmin, pmin), max(gmax, pmax)
            pad = 0.04 * (hi - lo) if (pmin < gmin or pmax > gmax) else 0.0
            view.append((lo - (pad if pmin < gmin else 0.0), hi + (pad if pmax > gmax else 0.0)))
            continue
        span = max(pmax - pmin, 1e-9)
        pad = max(0.5, 0.35 * span)
        # padding stays within the grid; points beyond the grid extend the view a little past them
        lo = max(pmin - pad, gmin) if pmin >= gmin else pmin - 0.05 * span
        hi = min(pmax + pad, gmax) if pmax <= gmax else pmax + 0.05 * span
        view.append((lo, hi))
    return view


def _epoch_text(e: float) -> str:
    return str(int(round(e))) if abs(e - round(e)) < 1e-6 else f"{e:.1f}"


def _draw_traj(ax, e, x, y, view, st: dict, label_epochs=None) -> None:
    ax.plot(x, y, color="white", linewidth=1.3, path_effects=_STROKE, zorder=6, solid_capstyle="round")
    ax.plot(x, y, linestyle="none", marker="o", markersize=3.2, markerfacecolor="white", markeredgecolor="black",
            markeredgewidth=0.6, zorder=7)
    if len(e) == 0:
        return
    if label_epochs is not None:
        want = [int(np.argmin(np.abs(e - float(le)))) for le in label_epochs]
    else:
        want = list(np.unique(np.round(np.linspace(0, len(e) - 1, min(len(e), 5))).astype(int)))
        want = [want[-1]] + want[:-1]  # the last epoch has priority over crowded neighbours
    sx = max(view[0][1] - view[0][0], 1e-9)
    sy = max(view[1][1] - view[1][0], 1e-9)
    placed: list[tuple[float, float]] = []
    for i in want:
        px, py = (x[i] - view[0][0]) / sx, (y[i] - view[1][0]) / sy
        if any(math.hypot(px - qx, py - qy) < 0.09 for qx, qy in placed):
            continue
        placed.append((px, py))
        ax.annotate(_epoch_text(e[i]), (x[i], y[i]), xytext=(4, 4), textcoords="offset points",
                    fontsize=_fs(st, "note"), zorder=9,
                    bbox=dict(boxstyle="round,pad=0.12", facecolor="white", edgecolor="none", alpha=0.8))


def fig_trajectories(panels: Sequence[Mapping[str, Any]], metric: str, style: Mapping | None = None) -> Figure:
    """Figure 3 (``train_loss``) / Figure 4 (``dev_error``): surfaces with projected trajectories.

    Each panel: ``{"grid", "traj": {"epoch", "d_alpha", "d_beta"}, "title", "row", "col"}`` and
    optionally ``"label_epochs"`` (epochs to annotate; default about five evenly spaced). Panels
    in one column share a colour scale, computed from the grid points inside the view. The view
    (``style["traj_view"]``) is zoomed on the trajectory and the anchors ("auto"), or the whole
    grid ("grid"); both grow past the grid when the trajectory leaves it (grey area, noted).
    """
    st = _style(style)
    if not panels:
        raise ValueError("fig_trajectories: no panels given")
    nr = max(int(p.get("row", 0)) for p in panels) + 1
    nc = max(int(p.get("col", 0)) for p in panels) + 1
    fig = _new_figure(st, nc, nr, extra_h=1.1)
    axes = fig.subplots(nr, nc, squeeze=False)
    used = np.zeros((nr, nc), bool)
    prepared = []
    for k, p in enumerate(panels):
        r, c = int(p.get("row", 0)), int(p.get("col", 0))
        if used[r, c]:
            raise ValueError(f"fig_trajectories: two panels at row {r}, col {c}")
        used[r, c] = True
        where = p.get("title") or f"panel {k}"
        g = p["grid"]
        a, b, v, done = _field(g, metric, where)
        e, x, y, dropped = _traj_points(p["traj"], where)
        anchors = [_anchor_xy(g, "start", (0.0, 0.0)), _anchor_xy(g, "end", (1.0, 0.0))]
        view = _traj_view(g, x, y, anchors, st["traj_view"])
        prepared.append((r, c, p, g, e, x, y, dropped, anchors, view, _in_view(a, b, v, done, view), (v, done)))
    any_nonfinite = False
    for c in range(nc):
        col = [q for q in prepared if q[1] == c]
        if not col:
            continue
        sc = _scale([q[10] for q in col], metric, st, full=[q[11] for q in col])
        mappable = None
        for r, _, p, g, e, x, y, dropped, anchors, view, _vf, _full in col:
            ax = axes[r, c]
            where = p.get("title") or f"row {r} col {c}"
            ax.set_facecolor("0.85")
            m = _draw_surface(ax, g, metric, sc, st, where)
            mappable = mappable or m
            _, _, v, done = _field(g, metric, where)
            any_nonfinite |= bool((~np.isfinite(v) & done).any())
            _draw_traj(ax, e, x, y, view, st, p.get("label_epochs"))
            _mark(ax, anchors[0], "dot")
            _mark(ax, anchors[1], "star")
            ax.set_xlim(*view[0])
            ax.set_ylim(*view[1])
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
            ax.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
            ga, gb = np.asarray(g.alpha, float), np.asarray(g.beta, float)
            outside = int(((x < ga.min()) | (x > ga.max()) | (y < gb.min()) | (y > gb.max())).sum())
            extra = []
            if outside:
                extra.append(f"{outside} epoch(s) outside the grid (grey)")
            if dropped:
                extra.append(f"{dropped} non-finite trajectory point(s) dropped")
            if extra:
                ax.text(0.98, 0.02, "\n".join(extra), transform=ax.transAxes, ha="right", va="bottom",
                        fontsize=_fs(st, "note"), zorder=20,
                        bbox=dict(boxstyle="round,pad=0.2", facecolor="white", edgecolor="0.5", alpha=0.85,
                                  linewidth=0.5))
            ax.set_title(p.get("title", ""), fontsize=_fs(st, "title"), pad=3)
            _label_axes(ax, st, left=c == 0 or not used[r, :c].any(), bottom=r == nr - 1 or not used[r + 1:, c].any())
        _colorbar(fig, mappable, sc, [axes[q[0], c] for q in col], st, "bottom",
                  _metric_label(metric, [q[3] for q in col]))
    for r in range(nr):
        for c in range(nc):
            if not used[r, c]:
                axes[r, c].set_axis_off()
    handles = [_marker_handle("dot", r"start $\theta_0$"), _marker_handle("star", r"end $\theta_1$"),
               Line2D([], [], color="white", linewidth=1.3, path_effects=_STROKE, marker="o", markersize=3.2,
                      markerfacecolor="white", markeredgecolor="black", label="trajectory (epoch numbers)")]
    if any_nonfinite:
        handles.append(_nonfinite_handle())
    title = {"train_loss": "Optimization trajectories on the training loss surface",
             "dev_error": "Optimization trajectory on the generalization error surface"}.get(
        metric, f"Optimization trajectories on the {_metric_label(metric)} surface")
    _finish(fig, st, title, handles)
    return fig


# ----------------------------------------------------------------------------------------- Figure 5


def _curve_ref(a: np.ndarray, f: np.ndarray, grid: Grid, metric: str) -> float:
    """f(1): the grid value at alpha=1, else the end anchor's value, else linear interpolation."""
    hit = np.flatnonzero(np.isclose(a, 1.0, rtol=0, atol=1e-9))
    if len(hit) and np.isfinite(f[hit[0]]):
        return float(f[hit[0]])
    ref = (grid.anchors or {}).get("end", {}).get(metric)
    if ref is not None and np.isfinite(ref):
        return float(ref)
    ok = np.isfinite(f)
    return float(np.interp(1.0, a[ok], f[ok])) if ok.sum() >= 2 else float("nan")


def fig_curves(curves: Mapping[str, Mapping[str, Grid]], style: Mapping | None = None,
               metric: str = "train_loss") -> Figure:
    """Figure 5: 1D loss curves f(alpha) per task; fine-tune solid, scratch dashed.

    Normalisation (``style["curve_norm"]``): "ratio" (default) plots f(alpha)/f(1) on a log axis,
    so 1 is the loss at the trained model and the curve shows by what factor the loss grows away
    from it; "minmax" plots (f-min)/(max-min) with min/max over alpha in [-4, 4]. The y label says
    which. Non-finite points are marked with red x at the top of the panel and counted.
    """
    st = _style(style)
    tasks = list(curves)
    if not tasks:
        raise ValueError("fig_curves: no curves given")
    fig = _new_figure(st, len(tasks), 1, extra_h=0.6)
    axes = fig.subplots(1, len(tasks), squeeze=False)[0]
    ratio = st["curve_norm"] == "ratio"
    ylabel = (r"$f(\alpha)\,/\,f(1)$  (log scale)" if ratio
              else r"$(f-\min)\,/\,(\max-\min)$ over $\alpha\in[-4,4]$")
    any_nonfinite = False
    for c, task in enumerate(tasks):
        ax = axes[c]
        ax.set_title(task, fontsize=_fs(st, "title"), pad=3)
        notes, drawn, positive = [], False, True
        for init in _ordered(curves[task], ("scratch", "finetune")):
            g = curves[task][init]
            if metric not in g.values:
                raise ValueError(f"fig_curves: {task}/{init}: metric {metric!r} not in grid")
            a = np.asarray(g.alpha, float)
            f = np.asarray(g.values[metric], float).reshape(-1)
            if f.shape != a.shape:
                raise ValueError(f"fig_curves: {task}/{init}: expected a 1D curve over alpha")
            order = np.argsort(a, kind="stable")
            a, f = a[order], f[order]
            done = np.asarray(g.done, bool).reshape(-1)[order] if g.done is not None and np.size(g.done) == len(a) \
                else np.ones(len(a), bool)
            bad = ~np.isfinite(f) & done
            f = np.where(done, f, np.nan)
            label = INIT_LABEL.get(init, init)
            if ratio:
                ref = _curve_ref(a, f, g, metric)
                if not (np.isfinite(ref) and ref > 0):
                    notes.append(f"{label}: f(1) unusable, not drawn")
                    continue
                y = f / ref
            else:
                win = np.isfinite(f) & (a >= -4 - 1e-9) & (a <= 4 + 1e-9)
                if not win.any():
                    notes.append(f"{label}: no finite values")
                    continue
                lo, hi = float(f[win].min()), float(f[win].max())
                y = (f - lo) / (hi - lo) if hi > lo else np.zeros_like(f)
            positive &= bool((y[np.isfinite(y)] > 0).all())
            color = INIT_COLOR.get(init, "0.3")
            ax.plot(a, y, color=color, linestyle=INIT_LINESTYLE.get(init, ":"), linewidth=1.5, zorder=3)
            for x0, kind in ((0.0, "dot"), (1.0, "star")):
                ok = np.isfinite(y)
                if ok.sum() >= 2 and a[ok].min() <= x0 <= a[ok].max():
                    ax.plot([x0], [np.interp(x0, a[ok], y[ok])], linestyle="none", markerfacecolor=color,
                            markeredgecolor="black", markeredgewidth=0.7, zorder=5,
                            **{**_MARKERS[kind], "markersize": _MARKERS[kind]["markersize"] * 0.7})
            if bad.any():
                any_nonfinite = True
                ax.plot(a[bad], np.full(bad.sum(), 1.0), transform=ax.get_xaxis_transform(), linestyle="none",
                        marker="x", color=NONFINITE_COLOR, markersize=5, markeredgewidth=1.0, zorder=12,
                        clip_on=False)
                notes.append(f"{label}: {int(bad.sum())} non-finite (×)")
            drawn = True
        if not drawn:
            _empty_panel(ax, "no drawable curve", st)
            _note(ax, notes, st)
            continue
        if ratio and positive:  # 1-2-5 ticks in plain numbers; matplotlib's own minor labels come out oversized
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
        for x0 in (0.0, 1.0):
            ax.axvline(x0, color="0.55", linewidth=0.6, linestyle=":", zorder=1)
        ax.grid(True, which="major", linewidth=0.3, alpha=0.5)
        _note(ax, notes, st, corner="lower left")  # curves rise towards the edges: usually empty there
        _label_axes(ax, st, left=c == 0, bottom=True, xl=r"$\alpha$  ($\theta_0+\alpha\,\delta_1$)", yl=ylabel)
    handles = [Line2D([], [], color=INIT_COLOR[i], linestyle=INIT_LINESTYLE[i], linewidth=1.5, label=INIT_LONG[i])
               for i in ("finetune", "scratch")]
    handles += [Line2D([], [], linestyle="none", markerfacecolor="0.7", markeredgecolor="black",
                       label=lab, **{**_MARKERS[k], "markersize": _MARKERS[k]["markersize"] * 0.7})
                for k, lab in (("dot", r"$\alpha=0$ ($\theta_0$)"), ("star", r"$\alpha=1$ ($\theta_1$)"))]
    if any_nonfinite:
        handles.append(_nonfinite_handle("non-finite (NaN/Inf), at the top edge"))
    _finish(fig, st, "One-dimensional training loss curves (normalized)", handles)
    return fig


# ----------------------------------------------------------------------------------------- Figure 7


def _group_key(name: str, g: Grid):
    layers = (g.attrs or {}).get("layers")
    first = layers[0] if isinstance(layers, (list, tuple)) and layers else math.inf
    known = GROUP_ORDER.index(name) if name in GROUP_ORDER else len(GROUP_ORDER)
    return (first, known, name)


def _layers_text(layers) -> str:
    if isinstance(layers, (list, tuple)) and len(layers) == 2:
        return f"{layers[0]}–{layers[1]}"
    if isinstance(layers, (list, tuple)) and layers:
        return ",".join(str(x) for x in layers)
    return ""


def fig_layers(grids: Mapping[str, Mapping[str, Grid]], style: Mapping | None = None,
               metric: str = "train_loss") -> Figure:
    """Figure 7: layer-wise loss surfaces, rows = tasks, columns = layer groups (low, mid, high).

    Columns are ordered by the first layer of ``grid.attrs["layers"]`` (then low/mid/high); each
    row (task) shares one colour scale. Dot: fine-tuned model (0, 0); star: rollback (-1, 0).
    """
    st = _style(style)
    tasks = [t for t in grids if grids[t]]
    if not tasks:
        raise ValueError("fig_layers: no grids given")
    first = {}
    for t in tasks:
        for gname, g in grids[t].items():
            first.setdefault(gname, _group_key(gname, g))
    groups = sorted(first, key=lambda n: first[n])
    nr, nc = len(tasks), len(groups)
    fig = _new_figure(st, nc, nr, extra_w=0.9, extra_h=0.9)
    axes = fig.subplots(nr, nc, squeeze=False)
    any_nonfinite = False
    for r, task in enumerate(tasks):
        fields = []
        for gname, g in grids[task].items():
            _, _, v, done = _field(g, metric, f"{task}/{gname}")
            fields.append((v, done))
            any_nonfinite |= bool((~np.isfinite(v) & done).any())
        sc = _scale(fields, metric, st)
        mappable = None
        for c, gname in enumerate(groups):
            ax = axes[r, c]
            g = grids[task].get(gname)
            label = GROUP_LABEL.get(gname, gname)
            if g is None:
                ax.set_title(f"{task} — {label} layers", fontsize=_fs(st, "title"), pad=3)
                _empty_panel(ax, "no data", st)
                continue
            label = GROUP_LABEL.get(str((g.attrs or {}).get("group", gname)), label)
            lt = _layers_text((g.attrs or {}).get("layers"))
            ax.set_title(f"{task} — {label} layers {lt}".rstrip(), fontsize=_fs(st, "title"), pad=3)
            m = _draw_surface(ax, g, metric, sc, st, f"{task}/{gname}")
            mappable = mappable or m
            _mark(ax, _anchor_xy(g, "finetuned", (0.0, 0.0)), "dot")
            _mark(ax, _anchor_xy(g, "rollback", (-1.0, 0.0)), "star")
            _label_axes(ax, st, left=c == 0, bottom=r == nr - 1,
                        xl=r"$\alpha$  ($\delta_1^G$)", yl=r"$\beta$  ($\delta_2^G$)")
        _colorbar(fig, mappable, sc, axes[r, :].tolist(), st, "right", _metric_label(metric, grids[task].values()))
    handles = [_marker_handle("dot", r"fine-tuned $\theta_1$ (0, 0)"),
               _marker_handle("star", "layer group rolled back to BERT (−1, 0)")]
    if any_nonfinite:
        handles.append(_nonfinite_handle())
    _finish(fig, st, f"Layer-wise {_metric_label(metric)} surfaces around the fine-tuned model", handles)
    return fig


# ------------------------------------------------------------------------------------------ Table 1

_ROW_KEYS = ("task", "finetuned", "layers", "metric", "glue")


def _num(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _delta_text(v: float, base: float) -> str:
    d = round(v - base, 2) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{d:+.2f}"


def table1(rows: Sequence[Mapping[str, Any]], style: Mapping | None = None) -> tuple[str, Figure]:
    """Table 1: dev accuracy (%) of the fine-tuned model and with each layer group rolled back.

    A row's optional ``metric`` names the score when it is not accuracy (e.g. "Pearson r" for a
    regression task, "F1" for MRPC): the Dataset cell then says so; ``glue`` (optional) is GLUE's
    metrics of the fine-tuned model, printed in an extra column of the Markdown.
    Returns (Markdown, Figure). Cells read "86.73 (+0.19)": the score and the difference to the
    fine-tuned score, computed from the given values and rounded to two decimals; missing or
    non-finite values print as "—". Column headers give the layer ranges from ``row["layers"]``
    when all rows agree on them, otherwise the group names.
    """
    st = _style(style)
    if not rows:
        raise ValueError("table1: no rows given")
    names = _ordered([k for r in rows for k in r if k not in _ROW_KEYS], GROUP_ORDER)
    headers = []
    for gname in names:
        ranges = {json.dumps((r.get("layers") or {}).get(gname)) for r in rows}
        rng = json.loads(ranges.pop()) if len(ranges) == 1 else None
        headers.append(f"Rollback {_layers_text(rng)}" if _layers_text(rng)
                       else f"Rollback {GROUP_LABEL.get(gname, gname)}")
    cols = ["Dataset", "BERT (fine-tuned)"] + headers
    named = lambda r: r.get("metric") not in (None, "", "accuracy", "acc")  # noqa: E731
    md_rows, fig_rows = [], []
    for r in rows:
        base = _num(r.get("finetuned"))
        task = str(r.get("task", "?")) + (f" ({r['metric']})" if named(r) else "")
        md = [task, "—" if base is None else f"{base:.2f}"]
        fg = list(md)
        for gname in names:
            v = _num(r.get(gname))
            if v is None:
                md.append("—")
                fg.append("—")
            elif base is None:
                md.append(f"{v:.2f}")
                fg.append(f"{v:.2f}")
            else:
                md.append(f"{v:.2f} ({_delta_text(v, base)})")
                fg.append(f"{v:.2f}\n({_delta_text(v, base)})")
        md_rows.append(md)
        fig_rows.append(fg)
    glue = any(r.get("glue") for r in rows)
    md_cols = cols + (["GLUE metrics (fine-tuned)"] if glue else [])
    if glue:
        md_rows = [m + [str(r.get("glue") or "—")] for m, r in zip(md_rows, rows)]
    lines = ["| " + " | ".join(md_cols) + " |", "|" + "|".join(["---"] + ["---:"] * (len(md_cols) - 1)) + "|"]
    lines += ["| " + " | ".join(m) + " |" for m in md_rows]
    what = ("Scores (x 100) on the development sets: accuracy (%), or the metric named after the dataset"
            if any(named(r) for r in rows) else "Accuracy (%) on the development sets")
    caption = (f"Table 1: {what}. BERT: the fine-tuned model; Rollback: the "
               "fine-tuned model with one group of layers reset to pre-trained BERT, difference to BERT in "
               "parentheses.")
    markdown = "\n".join(lines) + "\n\n" + caption + "\n"

    fs = _fs(st, "label")
    fig = Figure(figsize=(1.0 + 1.25 * len(cols), 0.9 + 0.5 * (len(rows) + 1)), dpi=st["dpi"])
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.80))
    ax.set_axis_off()
    tab = ax.table(cellText=fig_rows, colLabels=[c.replace(" (", "\n(") for c in cols], loc="center",
                   cellLoc="center")
    tab.auto_set_font_size(False)
    tab.set_fontsize(fs)
    n = len(rows) + 1
    for (i, j), cell in tab.get_celld().items():
        cell.set_height(1.0 / n)
        cell.set_linewidth(0.5)
        if i == 0:
            cell.set_text_props(fontweight="bold")
            cell.set_facecolor("0.9")
        elif j == 0:
            cell.set_text_props(fontweight="bold")
    fig.text(0.5, 0.97, f"{what.split(':')[0]}; (difference to fine-tuned BERT)",
             ha="center", va="top", fontsize=_fs(st, "title"))
    return markdown, fig


# ------------------------------------------------------------------------------------------- saving


def save_figure(fig: Figure, paths: Sequence[str | os.PathLike], provenance: Mapping | None = None,
                *, close: bool = True) -> None:
    """Write ``fig`` to each path (format from the suffix: .png, .pdf, .svg), atomically, reproducibly.

    Each file is written to a temporary file in the target directory and renamed over the target,
    so readers never see a partial figure. Identical figures give byte-identical files: the PNG has
    no "Software" chunk (matplotlib writes no tIME chunk), the PDF has no CreationDate (matplotlib
    would write the current time or SOURCE_DATE_EPOCH) and no Producer, the SVG no Date and a fixed
    hash salt. ``provenance`` (JSON-serialisable) is embedded as sorted-key JSON in the PNG text
    chunk "bertscape:provenance", the PDF "Subject" and the SVG "Description". With ``close`` the
    figure is also closed in pyplot in case a caller created it there (figures from this module are
    not registered with pyplot, so this frees nothing else). The figure's layout is computed once
    and then frozen (its layout engine is set to "none").
    """
    prov = None if provenance is None else json.dumps(provenance, sort_keys=True, ensure_ascii=False, default=str)
    jobs = []
    for p in paths:
        p = Path(p)
        fmt = p.suffix.lower().lstrip(".")
        if fmt == "png":
            meta = {"Software": None}
            if prov is not None:
                meta["bertscape:provenance"] = prov
        elif fmt == "pdf":
            meta = {"CreationDate": None, "Producer": None}
            if prov is not None:
                meta["Subject"] = prov
        elif fmt == "svg":
            meta = {"Date": None}
            if prov is not None:
                meta["Description"] = prov
        else:
            raise ValueError(f"save_figure: {p}: unsupported format {p.suffix!r} (use .png, .pdf or .svg)")
        jobs.append((p, fmt, meta))
    if fig.get_layout_engine() is not None and not isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
        # Constrained layout is re-run on every draw and starts from the previous positions, so a
        # second save (or PDF's 72 dpi text metrics) would shift the axes by a fraction of a pixel.
        # Lay out once at the figure's dpi and freeze: every format and every save then agree.
        fig.draw_without_rendering()
        fig.set_layout_engine("none")
    for p, fmt, meta in jobs:
        with atomic_path(p) as tmp, open(tmp, "wb") as f, \
                matplotlib.rc_context({"svg.hashsalt": "bertscape", "pdf.compression": 6}):
            fig.savefig(f, format=fmt, dpi="figure", metadata=meta, facecolor="white", edgecolor="white")
    if close and "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close(fig)
