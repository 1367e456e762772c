"""Figure 7: layer-wise loss surfaces around the fine-tuned model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from matplotlib.figure import Figure

from .scales import GROUP_LABEL, anchor_xy, group_key, layers_text, metric_label, shared_scale
from .style import (colorbar, draw_surface, empty_panel, finish, font_size, label_axes, mark, marker_handle, new_figure,
                    nonfinite_handle, resolve_style)

if TYPE_CHECKING:  # only for annotations: importing h5io pulls in torch via io
    from ..h5io import Grid


def fig_layers(grids: Mapping[str, Mapping[str, Grid]], style: Mapping | None = None,
               metric: str = "train_loss") -> Figure:
    """Figure 7: layer-wise loss surfaces, rows = tasks, columns = layer groups (low, mid, high).

    Columns are ordered by the first layer of ``grid.attrs["layers"]`` (then low/mid/high); each
    row (task) shares one colour scale. Dot: fine-tuned model (0, 0); star: rollback (-1, 0).
    """
    st = resolve_style(style)
    tasks = [t for t in grids if grids[t]]
    if not tasks:
        raise ValueError("fig_layers: no grids given")
    first = {}
    for t in tasks:
        for gname, g in grids[t].items():
            first.setdefault(gname, group_key(gname, g))
    groups = sorted(first, key=lambda n: first[n])
    nr, nc = len(tasks), len(groups)
    fig = new_figure(st, nc, nr, extra_w=0.9, extra_h=0.9)
    axes = fig.subplots(nr, nc, squeeze=False)
    any_nonfinite = False
    for r, task in enumerate(tasks):
        sc, nonfinite = shared_scale([(g, f"{task}/{gname}") for gname, g in grids[task].items()], metric, st)
        any_nonfinite |= nonfinite
        mappable = None
        for c, gname in enumerate(groups):
            ax = axes[r, c]
            g = grids[task].get(gname)
            label = GROUP_LABEL.get(gname, gname)
            if g is None:
                ax.set_title(f"{task} — {label} layers", fontsize=font_size(st, "title"), pad=3)
                empty_panel(ax, "no data", st)
                continue
            label = GROUP_LABEL.get(str((g.attrs or {}).get("group", gname)), label)
            lt = layers_text((g.attrs or {}).get("layers"))
            ax.set_title(f"{task} — {label} layers {lt}".rstrip(), fontsize=font_size(st, "title"), pad=3)
            m = draw_surface(ax, g, metric, sc, st, f"{task}/{gname}")
            mappable = mappable or m
            mark(ax, anchor_xy(g, "finetuned", (0.0, 0.0)), "dot")
            mark(ax, anchor_xy(g, "rollback", (-1.0, 0.0)), "star")
            label_axes(ax, st, left=c == 0, bottom=r == nr - 1,
                        xl=r"$\alpha$  ($\delta_1^G$)", yl=r"$\beta$  ($\delta_2^G$)")
        colorbar(fig, mappable, sc, axes[r, :].tolist(), st, "right", metric_label(metric, grids[task].values()))
    handles = [marker_handle("dot", r"fine-tuned $\theta_1$ (0, 0)"),
               marker_handle("star", "layer group rolled back to BERT (−1, 0)")]
    if any_nonfinite:
        handles.append(nonfinite_handle())
    finish(fig, st, f"Layer-wise {metric_label(metric)} surfaces around the fine-tuned model", handles)
    return fig
