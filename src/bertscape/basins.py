"""C1's 2D region around theta1, followed past the edge of the plotted grid.

:func:`bertscape.measures.basin` measures the connected region where the training loss <= f(theta1) +
``claims.tau_loss`` on the surface's grid; a region that reaches the grid's edge is censored (its true
area is larger, P3 fails). :func:`follow` runs the same fill (:func:`~bertscape.measures.lattice_fill`) on the
same lattice (the grid's steps, unbounded), taking a node's value from what is known (the surface) and
evaluating it only when the fill reaches it and nothing is known there, a whole frontier (wave) at a time.
:func:`extend` follows a surface's region past its edge, so the cost is the region's rim beyond the edge, not a
wider grid; started on an empty grid (:mod:`bertscape.sparse`) the fill evaluates exactly the region and its
rim. Either way a region that reaches more than ``budget`` nodes outside the grid stays censored. Inside the
grid :func:`extend`'s result is :func:`~bertscape.measures.basin`'s (the budget-0 case), so an uncensored region
costs nothing.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .measures import anchor_node, basin, grid_value, lattice_fill
from .h5io import Grid

Node = tuple[int, int]


def lattice_step(axis) -> float:
    """The uniform spacing of a grid axis; a non-uniform axis has no lattice to continue."""
    d = np.diff(np.asarray(axis, dtype=float))
    if len(d) == 0 or not np.allclose(d, d[0], rtol=1e-9, atol=1e-12):
        raise ValueError("the grid's axis is not uniformly spaced")
    return float(d[0])


class Lattice:
    """The unbounded lattice of a grid's axes: node (i, j) lies at (alpha[i], beta[j]) inside the grid (the
    grid's own coordinates, bit for bit) and at alpha[0] + i * step, beta[0] + j * step outside it."""

    def __init__(self, alpha, beta):
        self.alpha, self.beta = np.asarray(alpha, float), np.asarray(beta, float)
        self.sa, self.sb = lattice_step(self.alpha), lattice_step(self.beta)

    def inside(self, i: int, j: int) -> bool:
        return 0 <= i < len(self.alpha) and 0 <= j < len(self.beta)

    def at(self, i: int, j: int) -> tuple[float, float]:
        a = float(self.alpha[i]) if 0 <= i < len(self.alpha) else float(self.alpha[0] + i * self.sa)
        b = float(self.beta[j]) if 0 <= j < len(self.beta) else float(self.beta[0] + j * self.sb)
        return a, b


def follow(lattice: Lattice, seed: Node, threshold: float, evaluate: Callable[[list[Node]], list[float]],
           budget: int, known: Callable[[int, int], float | None] | None = None) -> tuple[list[Node], bool, dict]:
    """C1's fill from ``seed`` on the unbounded ``lattice``: a node's value is ``known(i, j)`` inside the grid where
    that is not None, else ``evaluate(nodes)`` (one call per wave of the fill, the wave's unknown nodes in the
    fill's order; a list of values back). At most ``budget`` nodes outside the grid are evaluated; past that they
    are unknown and the region censored. Returns (region, censored, {node: value} of every evaluated node, in
    evaluation order)."""
    evaluated: dict[Node, float] = {}
    past = [0]  # nodes outside the grid evaluated so far

    def values(nodes: list[Node]) -> list[float | None]:
        out: dict[Node, float | None] = {}
        todo = []
        for n in nodes:
            x = known(*n) if known is not None and lattice.inside(*n) else None
            if x is not None:
                out[n] = x
            elif lattice.inside(*n) or past[0] < budget:
                todo.append(n)
                past[0] += not lattice.inside(*n)
            else:
                out[n] = None
        for n, x in zip(todo, evaluate(todo) if todo else [], strict=True):
            evaluated[n] = out[n] = float(x)
        return [out[n] for n in nodes]

    region, censored = lattice_fill(seed, values, threshold)
    return region, censored, evaluated


def region_record(lattice: Lattice, seed: Node, region: list[Node], censored: bool, evaluated: dict,
                  inner: dict, budget: int) -> dict:
    """The region as the ``basin`` rule writes it (see :func:`extend`)."""
    ii = [i for i, _ in region] or [seed[0]]
    jj = [j for _, j in region] or [seed[1]]
    outside = [(n, x) for n, x in evaluated.items() if not lattice.inside(*n)]
    a0, b0 = float(lattice.alpha[0]), float(lattice.beta[0])
    return {"f_end": inner["f_end"], "threshold": inner["threshold"], "area": len(region) * lattice.sa * lattice.sb,
            "nodes": len(region), "censored": censored,
            "alpha_range": [a0 + min(ii) * lattice.sa, a0 + max(ii) * lattice.sa],
            "beta_range": [b0 + min(jj) * lattice.sb, b0 + max(jj) * lattice.sb], "budget": budget,
            "past_edge": len(outside), "in_grid": inner, "extra_points": [[*lattice.at(*n), x] for n, x in outside]}


def extend(grid: Grid, tau: float, evaluate: Callable[[float, float], float], budget: int,
           metric: str = "train_loss", anchor: str = "end") -> dict:
    """The region of :func:`~bertscape.measures.basin`, continued beyond the grid's edge by evaluating at most
    ``budget`` nodes outside it (``evaluate(alpha, beta)`` -> the metric). Returns basin's keys (``area``,
    ``censored``: still open when the budget ran out) plus ``nodes``, ``alpha_range`` / ``beta_range`` (the
    region's extent), ``past_edge`` (nodes evaluated outside the grid), ``in_grid`` (basin's own result) and
    ``extra_points`` ([alpha, beta, value] of those nodes)."""
    inner = basin(grid, metric, tau, anchor)
    lattice, seed = Lattice(grid.alpha, grid.beta), anchor_node(grid, anchor)
    region, censored, evaluated = follow(lattice, seed, inner["threshold"],
                                         lambda nodes: [evaluate(*lattice.at(*n)) for n in nodes], budget,
                                         known=grid_value(grid, metric))
    return region_record(lattice, seed, region, censored, evaluated, inner, budget)
