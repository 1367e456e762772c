"""Interactive 3D views of the 2D surfaces and layer surfaces: one self-contained HTML page per figure
family (plotly, with plotly.js embedded, so it opens offline), a menu to pick the surface.

Each surface is drawn as in its 2D figure (:mod:`bertscape.figures`): alpha along x, beta along y, the
metric as height and colour; one colour scale per task (shared by scratch and fine-tune, as a column of
Figures 1 and 6; by the layer groups, as a row of Figure 7), clipped at the same quantile, on a log
scale when the 2D figure's is (height and colour then show log10 of the value, the colour bar is
labelled in values). Anchors as in the 2D figures: a white dot at the start theta0 (0, 0) and a white
diamond (the 2D figures' star) at the end theta1 (1, 0); layer surfaces: dot = fine-tuned (0, 0),
diamond = the group rolled back (-1, 0). Anchors float a little above the surface on a stem, labelled. Non-finite values leave a hole and are marked with red x
at the top of the scale; points never evaluated are holes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.ticker import LogLocator, MaxNLocator

from .figures.scales import (GROUP_LABEL, INIT_LABEL, INIT_ORDER, NONFINITE_COLOR, anchor_xy, field, group_key,
                             higher_is_better, layers_text, metric_label, scale)
from .figures.style import resolve_style

if TYPE_CHECKING:
    from .h5io import Grid

TITLES = {"surfaces": "Loss and error surfaces (Figures 1 and 6) in 3D",
          "layers": "Layer-wise training loss surfaces (Figure 7) in 3D"}
ANCHORS = {"surface": (("start", (0.0, 0.0), "circle", "start θ0"), ("end", (1.0, 0.0), "diamond", "end θ1 (★ in 2D)")),
           "layer_surface": (("finetuned", (0.0, 0.0), "circle", "fine-tuned θ1 (0, 0)"),
                             ("rollback", (-1.0, 0.0), "diamond", "group rolled back to BERT (−1, 0) (★ in 2D)"))}


def colorscale(cmap, n: int = 11) -> list[list]:
    """A matplotlib colour map as a plotly colour scale (n stops)."""
    return [[i / (n - 1), "rgb({:.0f},{:.0f},{:.0f})".format(*(255 * np.asarray(cmap(i / (n - 1))[:3])))]
            for i in range(n)]


def _panel(g: Grid, metric: str, sc, st: dict, name: str) -> tuple[list, dict]:
    """The traces of one surface and its z axis (ticks labelled in values, like the colour bar)."""
    import plotly.graph_objects as go

    a, b, v, done = field(g, metric, name)
    f = (lambda x: np.log10(x)) if sc.log else (lambda x: x)
    z = np.where(done & np.isfinite(v), v, np.nan)
    zc = f(np.clip(z, sc.lo, sc.hi)) if sc.log else np.clip(z, sc.lo, sc.hi)
    ticks = LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=8).tick_values(sc.lo, sc.hi) if sc.log else \
        MaxNLocator(nbins=6).tick_values(sc.lo, sc.hi)
    ticks = ticks[(ticks >= sc.lo * (1 - 1e-9)) & (ticks <= sc.hi * (1 + 1e-9))]
    label = metric_label(metric) + (" (log scale)" if sc.log else "")
    bar = dict(title=dict(text=label, side="right"), tickvals=[float(f(t)) for t in ticks],
               ticktext=[f"{t:.3g}" for t in ticks], len=0.75)
    traces = [go.Surface(x=a, y=b, z=zc.T, surfacecolor=zc.T, cmin=float(f(sc.lo)), cmax=float(f(sc.hi)),
                         colorscale=colorscale(st["cmap"]), colorbar=bar, name=name, showscale=True,
                         customdata=z.T, hovertemplate="α %{x:.3g}<br>β %{y:.3g}<br>" + metric + " %{customdata:.4g}"
                         "<extra></extra>",
                         contours=dict(z=dict(show=True, usecolormap=False, color="black", width=1,
                                              start=float(f(sc.lo)), end=float(f(sc.hi)),
                                              size=float(f(sc.hi) - f(sc.lo)) / 6)))]
    lift = 0.12 * float(f(sc.hi) - f(sc.lo))  # the marker floats above the surface on a stem, so it is never hidden
    for key, default, symbol, text in ANCHORS.get(g.kind, ANCHORS["surface"]):
        x, y = anchor_xy(g, key, default)
        val = (g.anchors or {}).get(key, {}).get(metric)
        val = np.nan if val is None else float(val)
        zt = float(f(np.clip(val, sc.lo, sc.hi))) if np.isfinite(val) else float(f(sc.hi))
        traces.append(go.Scatter3d(x=[x, x], y=[y, y], z=[zt, zt + lift], mode="lines+markers+text", name=text,
                                   text=["", text.split(" (")[0]], textposition="top center",
                                   textfont=dict(color="black", size=13),
                                   line=dict(color="black", width=3),
                                   marker=dict(symbol=["circle", symbol], size=[2, 8], color="white",
                                               line=dict(color="black", width=2)),
                                   hovertemplate=f"{text}<br>{metric} {val:.4g}<extra></extra>"))
    bad = done & ~np.isfinite(v)
    if bad.any():
        A, B = np.meshgrid(a, b, indexing="ij")
        top = float(f(sc.lo if higher_is_better(metric) else sc.hi))
        traces.append(go.Scatter3d(x=A[bad], y=B[bad], z=np.full(int(bad.sum()), top), mode="markers",
                                   name=f"{int(bad.sum())} non-finite (NaN/Inf)",
                                   marker=dict(symbol="x", size=4, color=NONFINITE_COLOR)))
    zaxis = dict(title=dict(text=label), tickvals=bar["tickvals"], ticktext=bar["ticktext"],
                 range=[float(f(sc.lo)), float(f(sc.hi))])
    return traces, zaxis


def view_figure(panels: Sequence[tuple[str, Grid, str]], scale_key: Mapping[str, str], style: Mapping | None,
                title: str):
    """A plotly figure with one surface visible at a time. ``panels``: (menu label, grid, metric); panels with
    the same ``scale_key[label]`` and metric share a colour scale (computed as :func:`bertscape.figures.scales.scale` does for 2D)."""
    import plotly.graph_objects as go

    st = resolve_style(style)
    if not panels:
        raise ValueError("view_html: no surfaces given")
    fields: dict[tuple, list] = {}
    for label, g, metric in panels:
        _, _, v, done = field(g, metric, label)
        fields.setdefault((scale_key[label], metric), []).append((v, done))
    scales = {k: scale(fs, k[1], st) for k, fs in fields.items()}
    fig, owners, zaxes = go.Figure(), [], []
    for n, (label, g, metric) in enumerate(panels):
        traces, zaxis = _panel(g, metric, scales[(scale_key[label], metric)], st, label)
        zaxes.append(zaxis)
        for t in traces:
            t.visible = n == 0
            fig.add_trace(t)
            owners.append(n)
    axis = dict(showbackground=True, backgroundcolor="rgb(245,245,245)")
    buttons = [dict(label=label, method="update",
                    args=[{"visible": [o == n for o in owners]},
                          {"title.text": f"{title}<br><sub>{label}</sub>", "scene.zaxis": {**zaxes[n], **axis}}])
               for n, (label, _, _) in enumerate(panels)]
    fig.update_layout(
        title=dict(text=f"{title}<br><sub>{panels[0][0]}</sub>", x=0.5), template="plotly_white",
        updatemenus=[dict(buttons=buttons, direction="down", x=0.0, xanchor="left", y=1.0, yanchor="top")],
        legend=dict(x=0.0, y=0.0, bgcolor="rgba(255,255,255,0.8)"), margin=dict(l=10, r=10, t=80, b=10),
        scene_camera=dict(eye=dict(x=0.35, y=-1.75, z=1.05)),  # alpha left to right in front, as in the 2D figures
        scene=dict(xaxis=dict(title="α (δ1)", **axis), yaxis=dict(title="β (δ2)", **axis),
                   zaxis={**zaxes[0], **axis}, aspectmode="manual", aspectratio=dict(x=1, y=1, z=0.7)))
    return fig


def view_html(fig) -> str:
    """The page: plotly.js embedded (no network needed); a fixed div id, so identical inputs give identical
    bytes (plotly picks a random one otherwise)."""
    return fig.to_html(include_plotlyjs=True, full_html=True, div_id="bertscape-view", config={"displaylogo": False})


def make_view(view: str, grids: Sequence[Grid], style: Mapping | None = None):
    """``surfaces``: every surface twice, training loss (Figure 1) and dev error (Figure 6), one colour scale
    per task and metric; ``layers``: every layer surface's training loss (Figure 7), one scale per task."""
    order = {k: i for i, k in enumerate(INIT_ORDER)}
    panels, key = [], {}
    if view == "surfaces":
        gs = sorted(grids, key=lambda g: order.get(g.attrs["init"], len(order)))
        for metric, fig in (("train_loss", "Figure 1"), ("dev_error", "Figure 6")):
            for g in gs:
                task, init = g.attrs["task"], g.attrs["init"]
                label = f"{task} ({INIT_LABEL.get(init, init)}): {metric_label(metric)} ({fig})"
                panels.append((label, g, metric))
                key[label] = task
    elif view == "layers":
        for g in sorted(grids, key=lambda g: (g.attrs["task"], group_key(g.attrs["group"], g))):
            task, group = g.attrs["task"], g.attrs["group"]
            label = f"{task}: {GROUP_LABEL.get(group, group)} layers {layers_text(g.attrs.get('layers'))}"
            panels.append((label.rstrip(), g, "train_loss"))
            key[label.rstrip()] = task
    else:
        raise ValueError(f"unknown view {view!r} (surfaces or layers)")
    return view_figure(panels, key, style, TITLES[view])
