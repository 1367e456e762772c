"""The style kit of the figures: style keys, figure and panel set-up, marks, colour bars, titles and legends.

Style keys (all optional): ``cmap`` ("viridis"), ``dpi`` (150), ``levels`` (30),
``figsize_per_panel`` ((3.2, 2.8) inches), ``font_size`` (9), ``clip_quantile`` (0.98),
``curve_norm`` ("ratio": f(a)/f(1) on a log axis, or "minmax": (f-min)/(max-min) over a in
[-4, 4]), ``traj_view`` ("auto": zoom to the trajectory, or "grid": the whole grid), ``smooth``
(running-mean window of Figure 2 in epochs, default 0.25; 0 turns it off). Unknown keys are
ignored so a larger config section can be passed as is.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any, Mapping

import matplotlib
import numpy as np
from matplotlib import colors as mcolors
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import LogFormatter, LogLocator, MaxNLocator, NullFormatter

from .scales import ALPHA_LABEL, BETA_LABEL, NONFINITE_COLOR, Scale, field, higher_is_better

if TYPE_CHECKING:  # only for annotations: importing h5io pulls in torch via io
    from ..h5io import Grid


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

STROKE = [patheffects.withStroke(linewidth=2.6, foreground="black")]



def resolve_style(style: Mapping[str, Any] | None) -> dict[str, Any]:
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



def new_figure(st: dict, ncols: int, nrows: int, extra_w: float = 0.0, extra_h: float = 0.0) -> Figure:
    w, h = st["figsize_per_panel"]
    fig = Figure(figsize=(w * ncols + extra_w, h * nrows + extra_h), dpi=st["dpi"], layout="constrained")
    FigureCanvasAgg(fig)
    fig.get_layout_engine().set(w_pad=0.04, h_pad=0.04, wspace=0.03, hspace=0.03)
    return fig



def one_row(st: dict, n: int, empty: str):
    """A figure of one row of ``n`` panels, with room for a legend below: (figure, axes); ``empty``: the error
    when there is no panel."""
    if not n:
        raise ValueError(empty)
    fig = new_figure(st, n, 1, extra_h=0.6)
    return fig, fig.subplots(1, n, squeeze=False)[0]


def font_size(st: dict, what: str) -> float:
    f = st["font_size"]
    return {"title": f, "label": f, "tick": 0.85 * f, "note": 0.75 * f, "suptitle": 1.15 * f, "legend": 0.85 * f}[what]



def style_axes(ax, st: dict) -> None:
    ax.tick_params(labelsize=font_size(st, "tick"))  # stored on the axis: applies to ticks created at draw time



def note(ax, lines: list[str], st: dict, corner: str = "upper left") -> None:
    if lines:
        y, va = (0.98, "top") if corner == "upper left" else (0.02, "bottom")
        ax.text(0.02, y, "\n".join(lines), transform=ax.transAxes, ha="left", va=va,
                fontsize=font_size(st, "note"), zorder=20,
                bbox=dict(boxstyle="round,pad=0.2", facecolor="white", edgecolor="0.5", alpha=0.85, linewidth=0.5))



def empty_panel(ax, text: str, st: dict) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("0.93")
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=font_size(st, "label"), color="0.3")



def draw_surface(ax, grid: Grid, metric: str, sc: Scale, st: dict, where: str):
    """Filled contours of one surface; returns the mappable (or None when nothing is drawable)."""
    a, b, v, done = field(grid, metric, where)
    nonfin = ~np.isfinite(v) & done
    missing = ~done
    z = v.copy()
    z[nonfin] = sc.under if higher_is_better(metric) else sc.over
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
    note(ax, notes, st)
    ax.set_xlim(a.min(), a.max()) if len(a) > 1 else None
    ax.set_ylim(b.min(), b.max()) if len(b) > 1 else None
    return mappable



MARKERS = {"dot": dict(marker="o", markersize=6), "star": dict(marker="*", markersize=12)}



def mark(ax, xy, kind: str, zorder: int = 15) -> None:
    ax.plot([xy[0]], [xy[1]], linestyle="none", markerfacecolor="white", markeredgecolor="black",
            markeredgewidth=1.0, zorder=zorder, clip_on=False, **MARKERS[kind])



def marker_handle(kind: str, label: str) -> Line2D:
    return Line2D([], [], linestyle="none", markerfacecolor="white", markeredgecolor="black", markeredgewidth=1.0,
                  label=label, **MARKERS[kind])



def nonfinite_handle(label: str = "non-finite (NaN/Inf), drawn at the worst colour") -> Line2D:
    return Line2D([], [], linestyle="none", marker="x", color=NONFINITE_COLOR, markersize=5, markeredgewidth=1.0,
                  label=label)



def colorbar(fig, mappable, sc: Scale, axes, st: dict, location: str, label: str):
    if mappable is None:
        mappable = ScalarMappable(norm=sc.norm, cmap=st["cmap"])
    kw = dict(extend=sc.extend) if isinstance(mappable, ScalarMappable) and not hasattr(mappable, "levels") else {}
    cb = fig.colorbar(mappable, ax=axes, location=location, shrink=0.9, aspect=30, pad=0.02, **kw)
    cb.set_label(label + ("  (log scale)" if sc.log else ""), fontsize=font_size(st, "tick"))
    cb.ax.tick_params(labelsize=font_size(st, "note"))
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



def label_axes(ax, st: dict, left: bool, bottom: bool, xl: str = ALPHA_LABEL, yl: str = BETA_LABEL) -> None:
    style_axes(ax, st)
    if bottom:
        ax.set_xlabel(xl, fontsize=font_size(st, "label"), labelpad=1)
    if left:
        ax.set_ylabel(yl, fontsize=font_size(st, "label"), labelpad=1)



def finish(fig: Figure, st: dict, title: str, handles: list) -> None:
    """Suptitle and a legend below the panels, both wrapped to the figure's width."""
    width_pt = fig.get_figwidth() * 72.0
    chars = max(20, int(width_pt / (0.55 * font_size(st, "suptitle"))))
    fig.suptitle(textwrap.fill(title, chars), fontsize=font_size(st, "suptitle"))
    if not handles:
        return
    # rough width of each entry: text (mathtext source overestimates a little) plus handle and gaps
    est = sorted((0.52 * font_size(st, "legend") * len(h.get_label()) + 3.2 * font_size(st, "legend") for h in handles),
                 reverse=True)
    ncols = len(handles)
    while ncols > 1 and sum(est[:ncols]) > 0.95 * width_pt:
        ncols -= 1
    fig.legend(handles=handles, loc="outside lower center", ncols=ncols, fontsize=font_size(st, "legend"), frameon=False)



def row_words(n: int) -> list[str]:
    return ["top", "bottom"] if n == 2 else (["all"] if n == 1 else [f"row {i + 1}" for i in range(n)])
