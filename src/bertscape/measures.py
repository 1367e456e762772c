"""The numbers the claims and their preconditions are decided on: pure measures of grids, curves and training
records, with no verdict attached (:mod:`bertscape.claims` compares them, :mod:`bertscape.verdicts` words them).

Coordinates are the paper's: alpha along delta1 (alpha = 1 is the end point theta1), beta along delta2
rescaled to ||delta1||, so widths and areas are in units of ||delta1|| (Figure 5's "normalised axes").
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # annotations only: the measures need numpy, not the readers
    from .data import TaskSpec
    from .h5io import Grid


def nearest(axis: np.ndarray, x: float) -> int:
    """Index of the axis node nearest x."""
    return int(np.argmin(np.abs(np.asarray(axis) - x)))


def finite(*xs) -> bool:
    """Every value given and finite (None counts as missing)."""
    return all(x is not None and math.isfinite(x) for x in xs)


# ---------------------------------------------------------------- regions and intervals around theta1

def lattice_fill(seed: tuple[int, int], values, threshold: float) -> tuple[list[tuple[int, int]], bool]:
    """The 4-neighbour flood fill of C1's 2D region, on the integer lattice of a grid's nodes: the connected
    nodes around ``seed`` whose value is finite and <= ``threshold``, in the fill's (breadth-first) order.
    The fill runs in waves: ``values(nodes)`` gets each wave (the whole frontier, in breadth-first order, each
    node once) and returns one value per node, None for a node whose value is unknown (outside the grid, or
    past an evaluation budget); the region is censored when it touches one. So an evaluator sees whole
    frontiers (one engine batch each), and a node-at-a-time evaluator sees the nodes in the order of the
    sequential fill. The one fill of :func:`basin` (the grid alone) and :func:`bertscape.basins.follow` (continued
    past the grid's edge, or started on an empty grid)."""
    region, seen, censored = [], {seed}, False
    wave = [seed]
    while wave:
        nxt = []
        for node, x in zip(wave, values(wave), strict=True):
            if x is None:
                censored = True
            elif np.isfinite(x) and x <= threshold:
                region.append(node)
                i, j = node
                for n in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)):
                    if n not in seen:
                        seen.add(n)
                        nxt.append(n)
        wave = nxt
    return region, censored


def grid_value(grid: Grid, metric: str):
    """value(i, j): the grid's node (NaN where not evaluated), None outside it."""
    v = np.asarray(grid.values[metric], dtype=float)
    done = np.asarray(grid.done, dtype=bool)
    return lambda i, j: (float(v[i, j]) if done[i, j] else float("nan")) \
        if 0 <= i < v.shape[0] and 0 <= j < v.shape[1] else None


def anchor_node(grid: Grid, anchor: str = "end") -> tuple[int, int]:
    """The grid node nearest the anchor: where C1's 2D fill starts."""
    return nearest(grid.alpha, grid.anchors[anchor]["alpha"]), nearest(grid.beta, grid.anchors[anchor]["beta"])


def basin(grid: Grid, metric: str, tau: float, anchor: str = "end") -> dict:
    """Area of the connected region around the anchor where metric <= f(anchor) + tau (4-neighbour flood fill
    from the grid node nearest the anchor). ``censored``: the region reaches the grid's edge, so the true area
    is larger than measured."""
    f0 = grid.anchors[anchor][metric]
    value = grid_value(grid, metric)
    region, censored = lattice_fill(anchor_node(grid, anchor), lambda nodes: [value(*n) for n in nodes], f0 + tau)
    cell = float(np.mean(np.diff(grid.alpha)) * np.mean(np.diff(grid.beta)))
    return {"f_end": float(f0), "threshold": float(f0 + tau), "area": float(len(region) * cell),
            "fraction": len(region) / np.asarray(grid.values[metric]).size, "censored": censored}


def curve_width(curve: Grid, metric: str, tau: float, anchor: str = "end") -> dict:
    """Length of the interval around alpha(anchor) where the 1D curve stays <= f(anchor) + tau; the crossing
    points are linearly interpolated between grid nodes. ``censored`` when the interval reaches an end."""
    x, y = np.asarray(curve.alpha, float), np.asarray(curve.values[metric], float)
    f0 = curve.anchors[anchor][metric]
    thr = f0 + tau
    ok = np.isfinite(y) & (y <= thr)
    i0 = nearest(x, curve.anchors[anchor]["alpha"])
    if not ok[i0]:
        return {"f_end": float(f0), "threshold": float(thr), "width": 0.0, "left": float(x[i0]), "right": float(x[i0]),
                "censored": False}

    def edge(step: int) -> tuple[float, bool]:
        i = i0
        while 0 <= i + step < len(x) and ok[i + step]:
            i += step
        j = i + step
        if not 0 <= j < len(x):
            return float(x[i]), True
        if not np.isfinite(y[j]):
            return float(x[i]), False
        t = (thr - y[i]) / (y[j] - y[i])  # y[i] <= thr < y[j]
        return float(x[i] + t * (x[j] - x[i])), False

    left, cl = edge(-1)
    right, cr = edge(+1)
    return {"f_end": float(f0), "threshold": float(thr), "width": right - left, "left": left, "right": right,
            "censored": cl or cr}


def curve_minimum(curve: Grid, metric: str = "train_loss") -> tuple[float, float, bool]:
    """(alpha of the minimum, loss there, at_edge) over the curve's nodes and anchors. The minimum is refined by
    the vertex of the parabola through the lowest point and its two neighbours; ``at_edge``: the lowest point is
    the curve's first or last node, so the true minimum may lie beyond it."""
    pts = {float(a): float(y) for a, y in zip(curve.alpha, curve.values[metric]) if math.isfinite(y)}
    pts.update({float(v["alpha"]): float(v[metric]) for v in curve.anchors.values() if math.isfinite(v[metric])})
    x = np.array(sorted(pts))
    y = np.array([pts[a] for a in x])
    i = int(np.argmin(y))
    if i in (0, len(x) - 1):
        return float(x[i]), float(y[i]), True
    (x0, x1, x2), (y0, y1, y2) = x[i - 1:i + 2], y[i - 1:i + 2]
    den = (x1 - x0) * (y1 - y2) - (x1 - x2) * (y1 - y0)
    if den == 0:
        return float(x1), float(y1), False
    xv = x1 - 0.5 * ((x1 - x0) ** 2 * (y1 - y2) - (x1 - x2) ** 2 * (y1 - y0)) / den
    return float(min(max(xv, x0), x2)), float(y1), False


def bilinear_cell(alpha, beta, a: float, b: float) -> tuple[int, int, float, float] | None:
    """The lattice cell of a surface holding (a, b): (i, j, ta, tb), its lower corner [i, j] and the fractions
    along it; None outside the grid. The four nodes [i..i+1, j..j+1] are what :func:`bilinear` reads."""
    x, y = np.asarray(alpha, float), np.asarray(beta, float)
    if not (x[0] <= a <= x[-1] and y[0] <= b <= y[-1]):
        return None
    i = min(int(np.searchsorted(x, a, side="right")) - 1, len(x) - 2)
    j = min(int(np.searchsorted(y, b, side="right")) - 1, len(y) - 2)
    return i, j, (a - x[i]) / (x[i + 1] - x[i]), (b - y[j]) / (y[j + 1] - y[j])


def bilinear(grid: Grid, metric: str, a: float, b: float) -> float | None:
    """Bilinear interpolation of a surface at (a, b); None outside the grid."""
    cell = bilinear_cell(grid.alpha, grid.beta, a, b)
    if cell is None:
        return None
    i, j, ta, tb = cell
    v = np.asarray(grid.values[metric], float)
    return float((1 - ta) * (1 - tb) * v[i, j] + ta * (1 - tb) * v[i + 1, j] + (1 - ta) * tb * v[i, j + 1]
                 + ta * tb * v[i + 1, j + 1])


# ---------------------------------------------------------------- the optimisation path

def path_ascent(curve: Grid, metric: str) -> dict:
    """Total rise of the loss along the straight path from theta0 (alpha 0) to theta1 (alpha 1): the sum of the
    positive steps between consecutive nodes, start and end values taken from the exact anchors. A monotone
    descent has ascent 0."""
    x, y = np.asarray(curve.alpha, float), np.asarray(curve.values[metric], float)
    inner = (x > 1e-9) & (x < 1 - 1e-9)
    path = np.concatenate([[curve.anchors["start"][metric]], y[inner], [curve.anchors["end"][metric]]])
    steps = np.diff(path)
    return {"ascent": float(np.clip(steps, 0, None).sum()) if np.isfinite(path).all() else float("nan"),
            "drop": float(path[0] - path[-1]), "nodes": int(len(path))}


def epochs_to(rows: list[dict], threshold: float) -> int | None:
    """First epoch whose mean training loss is <= threshold; None if it never gets there."""
    for r in rows:
        if int(r["epoch"]) >= 1 and finite(r["train_loss"]) and r["train_loss"] <= threshold:
            return int(r["epoch"])
    return None


def target_variance(targets) -> float:
    """A regression task's chance loss: the MSE of always predicting the mean training target (population
    variance), the counterpart of ln(K) for K classes (the cross-entropy of the uniform prediction)."""
    return float(np.var(np.asarray(targets, dtype=np.float64)))


def chance_loss(spec: TaskSpec, target_variance: float | None = None) -> float:
    """Training loss of a model that learned nothing: cross-entropy of the uniform prediction, ln(#labels); for a
    regression task the MSE of predicting the mean training target, Var(train targets) (:func:`target_variance`)."""
    if spec.regression:
        if target_variance is None:
            raise ValueError(f"{spec.name}: a regression task's chance loss needs the variance of its training targets")
        return float(target_variance)
    return math.log(len(spec.labels))


# ---------------------------------------------------------------- rank correlation

def ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank."""
    order = np.argsort(x, kind="stable")
    r = np.empty(len(x))
    sx = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sx[j + 1] == sx[i]:
            j += 1
        r[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return r


def spearman(x, y) -> float:
    """Spearman's rho (Pearson r of the average ranks); NaN for fewer than 3 points or a constant side."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3:
        return float("nan")
    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def window_mask(alpha, beta, radius: float, center=(1.0, 0.0)) -> np.ndarray:
    """The grid nodes within ``radius`` (box) of ``center``: C4's window, [i_alpha, j_beta]."""
    A, B = np.meshgrid(np.asarray(alpha, float), np.asarray(beta, float), indexing="ij")
    return (np.abs(A - center[0]) <= radius + 1e-9) & (np.abs(B - center[1]) <= radius + 1e-9)


def window_spearman(loss: Grid, error: Grid, radius: float, loss_metric="train_loss", error_metric="dev_error",
                    center=(1.0, 0.0)) -> dict:
    """Rank correlation of training loss and dev error over the grid nodes within ``radius`` (box) of the end."""
    near = window_mask(loss.alpha, loss.beta, radius, center)
    x, y = np.asarray(loss.values[loss_metric])[near], np.asarray(error.values[error_metric])[near]
    keep = np.isfinite(x) & np.isfinite(y)
    return {"rho": spearman(x[keep], y[keep]), "nodes": int(keep.sum())}
