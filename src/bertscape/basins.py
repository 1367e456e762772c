"""C1's 2D region around theta1, followed past the edge of the plotted grid.

:func:`bertscape.measures.basin` measures the connected region where the training loss <= f(theta1) +
``claims.tau_loss`` on the surface's grid; a region that reaches the grid's edge is censored (its true
area is larger, P3 fails). :func:`extend` runs the same fill (:func:`~bertscape.measures.lattice_fill`) on the
same lattice (the grid's steps, unbounded), taking in-grid values from the surface and evaluating a node
outside it only when the fill reaches it, so the cost is the region's rim beyond the edge, not a wider
grid. A region that reaches more than ``budget`` such nodes stays censored. Inside the grid the result
is :func:`~bertscape.measures.basin`'s (the budget-0 case), so an uncensored region costs nothing.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .measures import anchor_node, basin, grid_value, lattice_fill
from .h5io import Grid


def lattice_step(axis) -> float:
    """The uniform spacing of a grid axis; a non-uniform axis has no lattice to continue."""
    d = np.diff(np.asarray(axis, dtype=float))
    if len(d) == 0 or not np.allclose(d, d[0], rtol=1e-9, atol=1e-12):
        raise ValueError("the grid's axis is not uniformly spaced")
    return float(d[0])


def extend(grid: Grid, tau: float, evaluate: Callable[[float, float], float], budget: int,
           metric: str = "train_loss", anchor: str = "end") -> dict:
    """The region of :func:`~bertscape.measures.basin`, continued beyond the grid's edge by evaluating at most
    ``budget`` nodes outside it (``evaluate(alpha, beta)`` -> the metric). Returns basin's keys (``area``,
    ``censored``: still open when the budget ran out) plus ``nodes``, ``alpha_range`` / ``beta_range`` (the
    region's extent), ``past_edge`` (nodes evaluated outside the grid), ``in_grid`` (basin's own result) and
    ``extra_points`` ([alpha, beta, value] of those nodes)."""
    inner = basin(grid, metric, tau, anchor)
    sa, sb = lattice_step(grid.alpha), lattice_step(grid.beta)
    a0, b0 = float(grid.alpha[0]), float(grid.beta[0])
    in_grid = grid_value(grid, metric)
    extra: dict[tuple[int, int], float] = {}

    def value(i: int, j: int) -> float | None:  # the fill asks for each node once
        x = in_grid(i, j)
        if x is not None:
            return x
        if len(extra) >= budget:
            return None  # unknown: the region is censored
        extra[i, j] = float(evaluate(a0 + i * sa, b0 + j * sb))
        return extra[i, j]

    seed = anchor_node(grid, anchor)
    region, censored = lattice_fill(seed, value, inner["threshold"])
    ii = [i for i, _ in region] or [seed[0]]
    jj = [j for _, j in region] or [seed[1]]
    return {"f_end": inner["f_end"], "threshold": inner["threshold"], "area": len(region) * sa * sb, "nodes": len(region),
            "censored": censored, "alpha_range": [a0 + min(ii) * sa, a0 + max(ii) * sa],
            "beta_range": [b0 + min(jj) * sb, b0 + max(jj) * sb], "budget": budget, "past_edge": len(extra),
            "in_grid": inner,
            "extra_points": [[a0 + i * sa, b0 + j * sb, x] for (i, j), x in extra.items()]}
