"""Beside Figure 1: the 2D training-loss surface of each run along two filter-normalised random directions at
theta1 (Li et al. 2018; issue 25), one column per task, scratch above fine-tune, theta1 at the centre; each
panel names its lattice local width (the largest ball around theta1 inside loss <= f(theta1) + tau)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from matplotlib.figure import Figure

from .scales import INIT_LABEL, INIT_LONG, INIT_ORDER, ordered, shared_scale
from .style import (colorbar, draw_surface, empty_panel, finish, font_size, label_axes, mark, marker_handle,
                    new_figure, resolve_style, row_words)

if TYPE_CHECKING:
    from ..h5io import Grid


def local_width_text(g: Grid) -> str:
    r, cut = g.attrs.get("local_width"), g.attrs.get("local_width_censored")
    return "" if r is None else f"r {'≥' if cut else '='} {float(r):.2g}"


def fig_filter_surfaces(grids: Mapping[str, Mapping[str, Grid]], style: Mapping | None = None) -> Figure:
    """``grids[init][task]``: the filter_surface grids; one shared colour scale per task column."""
    st = resolve_style(style)
    inits = ordered([i for i in grids if grids[i]], INIT_ORDER)
    tasks = ordered([t for i in inits for t in grids[i]])
    if not tasks:
        raise ValueError("fig_filter_surfaces: no grids given")
    fig = new_figure(st, len(tasks), len(inits), extra_h=1.1)
    axes = fig.subplots(len(inits), len(tasks), squeeze=False)
    for c, task in enumerate(tasks):
        present = [(init, grids[init][task]) for init in inits if task in grids[init]]
        sc, _ = shared_scale([(g, f"{task}/{init}") for init, g in present], "train_loss", st)
        mappable = None
        for r, init in enumerate(inits):
            ax = axes[r, c]
            g = grids[init].get(task)
            title = f"{task} ({INIT_LABEL.get(init, init)})"
            ax.set_title(f"{title}, {local_width_text(g)}" if g is not None else title,
                         fontsize=font_size(st, "title"), pad=3)
            if g is None:
                empty_panel(ax, "no data", st)
                continue
            m = draw_surface(ax, g, "train_loss", sc, st, f"{task}/{init}")
            mappable = mappable or m
            mark(ax, (0.0, 0.0), "star")
            label_axes(ax, st, left=c == 0, bottom=r == len(inits) - 1, xl=r"filter-normalised $d_1$",
                       yl=r"filter-normalised $d_2$")
        colorbar(fig, mappable, sc, axes[:, c].tolist(), st, "bottom", "training loss")
    rows = " vs ".join(f"{INIT_LONG.get(i, i)} ({pos})" for i, pos in zip(inits, row_words(len(inits))))
    title = rf"Training loss around $\theta_1$ along two random filter-normalised directions: {rows}; r: local width"
    finish(fig, st, title, [marker_handle("star", r"$\theta_1$")])
    return fig
