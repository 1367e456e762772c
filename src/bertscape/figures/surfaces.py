"""Figures 1 and 6: 2D surfaces of scratch and fine-tune, one column per task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from matplotlib.figure import Figure

from .scales import INIT_LABEL, INIT_LONG, INIT_ORDER, anchor_xy, metric_label, ordered, shared_scale
from .style import (colorbar, draw_surface, empty_panel, finish, font_size, label_axes, mark, marker_handle,
                    new_figure, nonfinite_handle, resolve_style, row_words)

if TYPE_CHECKING:  # only for annotations: importing h5io pulls in torch via io
    from ..h5io import Grid


def fig_surfaces(grids: Mapping[str, Mapping[str, Grid]], metric: str, style: Mapping | None = None) -> Figure:
    """Figure 1 (``train_loss``) / Figure 6 (``dev_error``): 2D surfaces, one column per task.

    ``grids[init][task]``; rows are inits (scratch on top, fine-tune below, others after), columns
    are tasks in first-seen order. Each column shares one colour scale and one colour bar.
    """
    st = resolve_style(style)
    inits = ordered([i for i in grids if grids[i]], INIT_ORDER)
    tasks = ordered([t for i in inits for t in grids[i]])
    if not tasks:
        raise ValueError("fig_surfaces: no grids given")
    nr, nc = len(inits), len(tasks)
    fig = new_figure(st, nc, nr, extra_h=1.1)
    axes = fig.subplots(nr, nc, squeeze=False)
    any_nonfinite = False
    for c, task in enumerate(tasks):
        present = [(r, init, grids[init][task]) for r, init in enumerate(inits) if task in grids[init]]
        sc, nonfinite = shared_scale([(g, f"{task}/{init}") for _, init, g in present], metric, st)
        any_nonfinite |= nonfinite
        mappable = None
        for r, init in enumerate(inits):
            ax = axes[r, c]
            ax.set_title(f"{task} ({INIT_LABEL.get(init, init)})", fontsize=font_size(st, "title"), pad=3)
            if task not in grids[init]:
                empty_panel(ax, "no data", st)
                continue
            g = grids[init][task]
            m = draw_surface(ax, g, metric, sc, st, f"{task}/{init}")
            mappable = mappable or m
            mark(ax, anchor_xy(g, "start", (0.0, 0.0)), "dot")
            mark(ax, anchor_xy(g, "end", (1.0, 0.0)), "star")
            label_axes(ax, st, left=c == 0, bottom=r == nr - 1)
        colorbar(fig, mappable, sc, axes[:, c].tolist(), st, "bottom", metric_label(metric, [g for _, _, g in present]))
    title = {"train_loss": "Training loss surfaces", "dev_error": "Generalization error surfaces"}.get(
        metric, f"{metric_label(metric).capitalize()} surfaces")
    rows = " vs ".join(f"{INIT_LONG.get(i, i)} ({pos})" for i, pos in zip(inits, row_words(nr)))
    handles = [marker_handle("dot", r"start $\theta_0$"), marker_handle("star", r"end $\theta_1$")]
    if any_nonfinite:
        handles.append(nonfinite_handle())
    finish(fig, st, f"{title}: {rows}", handles)
    return fig
