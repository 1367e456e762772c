"""Figure 5: 1D loss curves f(alpha) per task, normalised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .scales import INIT_COLOR, INIT_LABEL, INIT_LINESTYLE, INIT_LONG, NONFINITE_COLOR, ordered
from .style import MARKERS, empty_panel, finish, font_size, label_axes, nonfinite_handle, note, one_row, resolve_style

if TYPE_CHECKING:  # only for annotations: importing h5io pulls in torch via io
    from ..h5io import Grid


def _curve_ref(a: np.ndarray, f: np.ndarray, grid: Grid, metric: str, at: float = 1.0) -> float:
    """f(theta1): the grid value at alpha = ``at`` (1; 0 on filter-normalised axes), else the end anchor's value,
    else linear interpolation."""
    hit = np.flatnonzero(np.isclose(a, at, rtol=0, atol=1e-9))
    if len(hit) and np.isfinite(f[hit[0]]):
        return float(f[hit[0]])
    ref = (grid.anchors or {}).get("end", {}).get(metric)
    if ref is not None and np.isfinite(ref):
        return float(ref)
    ok = np.isfinite(f)
    return float(np.interp(at, a[ok], f[ok])) if ok.sum() >= 2 else float("nan")



def _normalised(g: Grid, task: str, init: str, metric: str, ratio: bool, at: float = 1.0):
    """(alpha, the curve as drawn, its non-finite evaluated nodes, why not drawable): f / f(1) (``ratio``) or
    min-max over alpha in [-4, 4]; the curve is None when it cannot be drawn."""
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
    if ratio:
        ref = _curve_ref(a, f, g, metric, at)
        if not (np.isfinite(ref) and ref > 0):
            return a, None, bad, "f(1) unusable, not drawn"
        return a, f / ref, bad, ""
    win = np.isfinite(f) & (a >= -4 - 1e-9) & (a <= 4 + 1e-9)
    if not win.any():
        return a, None, bad, "no finite values"
    lo, hi = float(f[win].min()), float(f[win].max())
    return a, (f - lo) / (hi - lo) if hi > lo else np.zeros_like(f), bad, ""


def fig_curves(curves: Mapping[str, Mapping[str, Grid]], style: Mapping | None = None,
               metric: str = "train_loss", others: list[Mapping[str, Mapping[str, Grid]]] | None = None) -> Figure:
    """Figure 5: 1D loss curves f(alpha) per task; fine-tune solid, scratch dashed.

    Normalisation (``style["curve_norm"]``): "ratio" (default) plots f(alpha)/f(1) on a log axis,
    so 1 is the loss at the trained model and the curve shows by what factor the loss grows away
    from it; "minmax" plots (f-min)/(max-min) with min/max over alpha in [-4, 4]. The y label says
    which. Non-finite points are marked with red x at the top of the panel and counted. ``others``: more seeds'
    curves (same layout), each drawn as a thin line behind the figure's own.
    """
    st = resolve_style(style)
    tasks = list(curves)
    fig, axes = one_row(st, len(tasks), "fig_curves: no curves given")
    ratio = st["curve_norm"] == "ratio"
    # filter-normalised axes (directions.kind): theta1 + alpha d, theta1 at alpha 0, no theta0 on the line
    filt = any(g.attrs.get("directions") == "filter_normalized" for d in curves.values() for g in d.values())
    at, marks = (0.0, ((0.0, "star"),)) if filt else (1.0, ((0.0, "dot"), (1.0, "star")))
    xl = r"$\alpha$  ($\theta_1+\alpha\,d$, filter-normalised)" if filt else r"$\alpha$  ($\theta_0+\alpha\,\delta_1$)"
    ylabel = ((r"$f(\alpha)\,/\,f(\theta_1)$  (log scale)" if filt else r"$f(\alpha)\,/\,f(1)$  (log scale)") if ratio
              else r"$(f-\min)\,/\,(\max-\min)$ over $\alpha\in[-4,4]$")
    any_nonfinite = False
    for c, task in enumerate(tasks):
        ax = axes[c]
        ax.set_title(task, fontsize=font_size(st, "title"), pad=3)
        notes, drawn, positive = [], False, True
        for init in ordered(curves[task], ("scratch", "finetune")):
            label = INIT_LABEL.get(init, init)
            for other in others or []:  # other seeds' curves: thin lines behind
                if init in other.get(task, {}):
                    oa, oy, _, _ = _normalised(other[task][init], task, init, metric, ratio, at)
                    if oy is not None:
                        positive &= bool((oy[np.isfinite(oy)] > 0).all())
                        ax.plot(oa, oy, color=INIT_COLOR.get(init, "0.3"), linestyle="-", linewidth=0.6, alpha=0.45,
                                zorder=2, gid="other seed")
            a, y, bad, problem = _normalised(curves[task][init], task, init, metric, ratio, at)
            if y is None:
                notes.append(f"{label}: {problem}")
                continue
            positive &= bool((y[np.isfinite(y)] > 0).all())
            color = INIT_COLOR.get(init, "0.3")
            ax.plot(a, y, color=color, linestyle=INIT_LINESTYLE.get(init, ":"), linewidth=1.5, zorder=3)
            for x0, kind in marks:
                ok = np.isfinite(y)
                if ok.sum() >= 2 and a[ok].min() <= x0 <= a[ok].max():
                    ax.plot([x0], [np.interp(x0, a[ok], y[ok])], linestyle="none", markerfacecolor=color,
                            markeredgecolor="black", markeredgewidth=0.7, zorder=5,
                            **{**MARKERS[kind], "markersize": MARKERS[kind]["markersize"] * 0.7})
            if bad.any():
                any_nonfinite = True
                ax.plot(a[bad], np.full(bad.sum(), 1.0), transform=ax.get_xaxis_transform(), linestyle="none",
                        marker="x", color=NONFINITE_COLOR, markersize=5, markeredgewidth=1.0, zorder=12,
                        clip_on=False)
                notes.append(f"{label}: {int(bad.sum())} non-finite (×)")
            drawn = True
        if not drawn:
            empty_panel(ax, "no drawable curve", st)
            note(ax, notes, st)
            continue
        if ratio and positive:  # 1-2-5 ticks in plain numbers; matplotlib's own minor labels come out oversized
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
        for x0, _ in marks:
            ax.axvline(x0, color="0.55", linewidth=0.6, linestyle=":", zorder=1)
        ax.grid(True, which="major", linewidth=0.3, alpha=0.5)
        note(ax, notes, st, corner="lower left")  # curves rise towards the edges: usually empty there
        label_axes(ax, st, left=c == 0, bottom=True, xl=xl, yl=ylabel)
    handles = [Line2D([], [], color=INIT_COLOR[i], linestyle=INIT_LINESTYLE[i], linewidth=1.5, label=INIT_LONG[i])
               for i in ("finetune", "scratch")]
    handles += [Line2D([], [], linestyle="none", markerfacecolor="0.7", markeredgecolor="black",
                       label=lab, **{**MARKERS[k], "markersize": MARKERS[k]["markersize"] * 0.7})
                for k, lab in ((("star", r"$\alpha=0$ ($\theta_1$)"),) if filt else
                               (("dot", r"$\alpha=0$ ($\theta_0$)"), ("star", r"$\alpha=1$ ($\theta_1$)")))]
    if others:
        n = len(others)
        handles.append(Line2D([], [], color="0.4", linewidth=0.6, alpha=0.6, label=f"thin: {n} other seed{'s' * (n > 1)}"))
    if any_nonfinite:
        handles.append(nonfinite_handle("non-finite (NaN/Inf), at the top edge"))
    finish(fig, st, "One-dimensional training loss curves (normalized)", handles)
    return fig
