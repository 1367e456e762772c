"""Figures 3 and 4: surfaces with the projected optimisation trajectories.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from .scales import anchor_xy, field, in_view, metric_label, scale
from .style import (STROKE, colorbar, draw_surface, finish, font_size, label_axes, mark, marker_handle, new_figure,
                    nonfinite_handle, resolve_style)

if TYPE_CHECKING:  # only for annotations: importing h5io pulls in torch via io
    from ..h5io import Grid


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
    ax.plot(x, y, color="white", linewidth=1.3, path_effects=STROKE, zorder=6, solid_capstyle="round")
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
                    fontsize=font_size(st, "note"), zorder=9,
                    bbox=dict(boxstyle="round,pad=0.12", facecolor="white", edgecolor="none", alpha=0.8))



def fig_trajectories(panels: Sequence[Mapping[str, Any]], metric: str, style: Mapping | None = None) -> Figure:
    """Figure 3 (``train_loss``) / Figure 4 (``dev_error``): surfaces with projected trajectories.

    Each panel: ``{"grid", "traj": {"epoch", "d_alpha", "d_beta"}, "title", "row", "col"}`` and
    optionally ``"label_epochs"`` (epochs to annotate; default about five evenly spaced). Panels
    in one column share a colour scale, computed from the grid points inside the view. The view
    (``style["traj_view"]``) is zoomed on the trajectory and the anchors ("auto"), or the whole
    grid ("grid"); both grow past the grid when the trajectory leaves it (grey area, noted).
    """
    st = resolve_style(style)
    if not panels:
        raise ValueError("fig_trajectories: no panels given")
    nr = max(int(p.get("row", 0)) for p in panels) + 1
    nc = max(int(p.get("col", 0)) for p in panels) + 1
    fig = new_figure(st, nc, nr, extra_h=1.1)
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
        a, b, v, done = field(g, metric, where)
        e, x, y, dropped = _traj_points(p["traj"], where)
        anchors = [anchor_xy(g, "start", (0.0, 0.0)), anchor_xy(g, "end", (1.0, 0.0))]
        view = _traj_view(g, x, y, anchors, st["traj_view"])
        prepared.append((r, c, p, g, e, x, y, dropped, anchors, view, in_view(a, b, v, done, view), (v, done)))
    any_nonfinite = False
    for c in range(nc):
        col = [q for q in prepared if q[1] == c]
        if not col:
            continue
        sc = scale([q[10] for q in col], metric, st, full=[q[11] for q in col])
        mappable = None
        for r, _, p, g, e, x, y, dropped, anchors, view, _vf, _full in col:
            ax = axes[r, c]
            where = p.get("title") or f"row {r} col {c}"
            ax.set_facecolor("0.85")
            m = draw_surface(ax, g, metric, sc, st, where)
            mappable = mappable or m
            _, _, v, done = field(g, metric, where)
            any_nonfinite |= bool((~np.isfinite(v) & done).any())
            _draw_traj(ax, e, x, y, view, st, p.get("label_epochs"))
            mark(ax, anchors[0], "dot")
            mark(ax, anchors[1], "star")
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
                        fontsize=font_size(st, "note"), zorder=20,
                        bbox=dict(boxstyle="round,pad=0.2", facecolor="white", edgecolor="0.5", alpha=0.85,
                                  linewidth=0.5))
            ax.set_title(p.get("title", ""), fontsize=font_size(st, "title"), pad=3)
            label_axes(ax, st, left=c == 0 or not used[r, :c].any(), bottom=r == nr - 1 or not used[r + 1:, c].any())
        colorbar(fig, mappable, sc, [axes[q[0], c] for q in col], st, "bottom",
                  metric_label(metric, [q[3] for q in col]))
    for r in range(nr):
        for c in range(nc):
            if not used[r, c]:
                axes[r, c].set_axis_off()
    handles = [marker_handle("dot", r"start $\theta_0$"), marker_handle("star", r"end $\theta_1$"),
               Line2D([], [], color="white", linewidth=1.3, path_effects=STROKE, marker="o", markersize=3.2,
                      markerfacecolor="white", markeredgecolor="black", label="trajectory (epoch numbers)")]
    if any_nonfinite:
        handles.append(nonfinite_handle())
    title = {"train_loss": "Optimization trajectories on the training loss surface",
             "dev_error": "Optimization trajectory on the generalization error surface"}.get(
        metric, f"Optimization trajectories on the {metric_label(metric)} surface")
    finish(fig, st, title, handles)
    return fig
