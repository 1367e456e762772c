"""The forest plot of one claim over seeds: a panel per measure (its own effect units), a row per task and one
pooled row; each seed's effect a point, the median a diamond with its bootstrap interval, the tie band shaded,
the verdict written at the right. Effects > 0 support the paper."""

from __future__ import annotations

import textwrap
from typing import Any, Mapping, Sequence

from .style import empty_panel, font_size, new_figure, resolve_style, style_axes

VERDICT_COLOUR = {"holds": "#1a7f37", "does not hold": "#c62828", "undecided": "0.35", "n/a": "0.6"}


def forest(claim: str, title: str, results: Sequence[Mapping[str, Any]], style: Mapping | None = None):
    """Figure of one claim; ``results``: its rows of claims.json ``decisions`` (task rows and pooled rows)."""
    st = resolve_style(style)
    measures = list(dict.fromkeys(r["measure"] for r in results))
    heights = [max(2, sum(r["measure"] == m for r in results)) for m in measures] or [2]
    w, _ = st["figsize_per_panel"]
    fig = new_figure(st, 2, 0, extra_h=0.45 * sum(heights) + 0.6)
    fig.set_figwidth(max(2.2 * w, 6.5))
    axes = fig.subplots(len(measures) or 1, 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    if not measures:
        empty_panel(axes[0], f"{claim}: no rows in this run", st)
    seeds = sorted({c["seed"] for r in results for c in r["per_seed"]}, key=str)  # ints; pairs "7~8"
    markers = dict(zip(seeds, "osD^v<>px*hH+"))
    for ax, m in zip(axes, measures):
        rows = [r for r in results if r["measure"] == m]
        rows = [r for r in rows if r["scope"] != "pooled"] + [r for r in rows if r["scope"] == "pooled"]
        band = rows[0]["band"]
        for y, r in enumerate(reversed(rows)):
            ax.fill_betweenx([y - 0.4, y + 0.4], -band, band, color="0.85", zorder=0, linewidth=0)
            pooled = r["scope"] == "pooled"
            pts = [(c["effect"], c["seed"]) for c in r["per_seed"] if c["effect"] is not None]
            for k, (x, s) in enumerate(pts):
                ax.plot(x, y + 0.25 * ((k % 5) - 2) / 5, markers[s], ms=3.5, mfc="none", mec="0.3", mew=0.7,
                        zorder=2, alpha=0.5 if pooled else 0.9)
            col = VERDICT_COLOUR.get(r["verdict"], "0.3")
            if r["low"] is not None:
                ax.plot([r["low"], r["high"]], [y, y], color=col, lw=2.4 if pooled else 1.4, zorder=3)
                ax.plot(r["median_effect"], y, "D", color=col, ms=7 if pooled else 5, zorder=4)
            left = f" ({r['n_left_out']} n/a)" if r["n_left_out"] and r["verdict"] != "n/a" else ""
            ax.text(1.01, y, f"{r['verdict']}{left}", transform=ax.get_yaxis_transform(), va="center",
                    fontsize=font_size(st, "note"), color=col, fontweight="bold" if pooled else "normal")
        ax.axvline(0, color="0.2", lw=0.6, zorder=1)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([("pooled" if r["scope"] == "pooled" else r["task"]) for r in reversed(rows)],
                           fontsize=font_size(st, "tick"))
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_title(f"{m}  (tie band ±{band:g} shaded)", fontsize=font_size(st, "label"), loc="left")
        style_axes(ax, st)
    axes[-1].set_xlabel("effect (> 0 supports the paper)", fontsize=font_size(st, "label"))
    fig.suptitle(textwrap.fill(f"{claim}: {title}", 80), fontsize=font_size(st, "suptitle"))
    if seeds:
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], ls="", marker=markers[s], mfc="none", mec="0.3", label=f"seed {s}") for s in seeds]
        handles.append(Line2D([], [], ls="", marker="D", color="0.35", label="median, 95 % interval"))
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6),
                   fontsize=font_size(st, "legend"), frameon=False)
    return fig
