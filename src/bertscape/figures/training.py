"""Figure 2: training loss against epoch, fine-tune and scratch.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .scales import INIT_COLOR, INIT_LABEL, INIT_LINESTYLE, INIT_LONG, ordered
from .style import empty_panel, finish, font_size, label_axes, note, one_row, resolve_style


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



def _smoothed(d: Mapping[str, np.ndarray], smooth) -> tuple[np.ndarray, np.ndarray, int, str | None]:
    """(x, running mean, window, its legend text) of one run's finite losses."""
    y = np.asarray(d["loss"], dtype=float).ravel()
    xkey = "epoch" if d.get("epoch") is not None else "step"
    x = np.asarray(d[xkey], dtype=float).ravel()
    ok = np.isfinite(x) & np.isfinite(y) if len(x) == len(y) else np.zeros(len(y), bool)
    k, wlabel = _smooth_window(x[ok], xkey, smooth)
    return x[ok], _running_mean(y[ok], k), k, wlabel


def fig_training_curves(logs: Mapping[str, Mapping[str, Mapping[str, np.ndarray]]],
                        style: Mapping | None = None,
                        others: list[Mapping[str, Mapping[str, Mapping[str, np.ndarray]]]] | None = None) -> Figure:
    """Figure 2: training loss against epoch, one panel per task; fine-tune solid, scratch dashed.

    ``logs[task][init] = {"step", "loss", "epoch"}`` (``epoch`` = float epoch position of each
    step; without it the step is used). Raw per-step losses are drawn faintly, a running mean over
    ``style["smooth"]`` epochs (default 0.25) bold. ``others``: more seeds' logs (same layout), each drawn as
    its running mean, a thin line behind the figure's own.
    """
    st = resolve_style(style)
    tasks = list(logs)
    fig, axes = one_row(st, len(tasks), "fig_training_curves: no logs given")
    windows = set()
    for c, task in enumerate(tasks):
        ax = axes[c]
        ax.set_title(task, fontsize=font_size(st, "title"), pad=3)
        inits = ordered(logs[task], ("finetune", "scratch"))
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
            for other in others or []:  # other seeds: their running means, thin, behind
                if init in other.get(task, {}):
                    ox, oys, _, _ = _smoothed(other[task][init], st["smooth"])
                    if len(ox):
                        ax.plot(ox, oys, color=color, linestyle="-", linewidth=0.6, alpha=0.5, zorder=1.5,
                                gid="other seed")
                        tops.append(float(np.nanmax(oys)))
            ax.plot(x, ys, color=color, linestyle=ls, linewidth=1.5, zorder=2)
            tops += [float(np.quantile(yy, 0.995)), float(np.nanmax(ys))]
            any_line = True
        if not any_line:
            empty_panel(ax, "no finite losses", st)
            continue
        if tops:
            ax.set_ylim(bottom=0.0 if all(t >= 0 for t in tops) else None, top=1.05 * max(tops))
        ax.margins(x=0.01)
        note(ax, notes, st)
        label_axes(ax, st, left=c == 0, bottom=True, xl="epoch", yl="training loss")
        ax.grid(True, linewidth=0.3, alpha=0.5)
    handles = [Line2D([], [], color=INIT_COLOR[i], linestyle=INIT_LINESTYLE[i], linewidth=1.5, label=INIT_LONG[i])
               for i in ("finetune", "scratch")]
    if others:
        handles.append(Line2D([], [], color="0.4", linewidth=0.6, alpha=0.6,
                              label=f"thin: running mean of {len(others)} other seed{'s' * (len(others) > 1)}"))
    windows.discard(None)
    if windows:
        handles.append(Line2D([], [], color="0.5", linewidth=0.5, alpha=0.5,
                              label=f"faint: per step; bold: running mean over {' / '.join(sorted(windows))}"))
    finish(fig, st, "Training loss of fine-tuning BERT and training from scratch", handles)
    return fig
