"""The claims' nodes of a 2D surface without the surface: what an extra seed evaluates instead of the full grid.

C1's 2D area and P3's 2D part read the region around theta1 (:func:`bertscape.basins.extend`), C4 the nodes of
its window around (1, 0) (:func:`bertscape.measures.window_spearman`), C3 the four nodes of the cell holding the
long run's final point (:func:`bertscape.measures.bilinear`). :func:`evaluate_points` evaluates just those, on
the full surface's lattice: the surface's anchors (training and dev sets), then C1's flood fill started on an
empty grid (:func:`bertscape.basins.follow`; training loss only, a whole frontier per engine call, past the
grid's edge up to ``claims.basin_points`` nodes as the ``basin`` rule does), then the window's and C3's nodes
(the dev set everywhere, the training subset where the fill did not already). :func:`points_grid` writes them
as a :class:`~bertscape.h5io.Grid` of the surface's shape, NaN and not ``done`` at every node not evaluated, so
:func:`bertscape.claims.evaluate` and :mod:`bertscape.preconditions` read it in place of the surface and give the
same rows: every node they read is one evaluated here, at the surface's coordinates, by an engine whose numbers
per batch do not depend on the other batches (:func:`bertscape.surfaces.open_engines`).

Order is deterministic: anchors in the surface's order, the fill's waves in breadth-first order, the window's
and C3's nodes in [i_alpha, j_beta] order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .accuracy import check, merge
from .basins import Lattice, Node, follow, region_record
from .h5io import Grid, write_grid
from .measures import basin, bilinear_cell, nearest, window_mask
from .surfaces import ANCHORS, EngineSpec, open_engines, run_attrs
from .theta1window import theta1_mask

Evaluator = Callable[[list[tuple[float, float]]], list[dict[str, float]]]


def claim_nodes(alpha, beta, window: float | None, final: tuple[float, float] | None = None,
                theta1: dict | None = None) -> list[Node]:
    """The grid nodes C4 (the window within ``window`` of (1, 0), and the pre-registered window on theta1's side
    ``theta1``, :mod:`bertscape.theta1window`) and C3 (the cell around the long run's ``final`` (d_alpha, d_beta);
    none when it lies outside the grid) read with the dev set, in [i, j] order. ``window`` None: no C4 windows
    (a control run: its rows read none)."""
    mask = window_mask(alpha, beta, window) if window is not None else np.zeros((len(alpha), len(beta)), bool)
    if theta1 is not None:
        mask = mask | theta1_mask(alpha, beta, theta1)
    nodes = {(int(i), int(j)) for i, j in zip(*np.nonzero(mask))}
    cell = None if final is None else bilinear_cell(alpha, beta, *final)
    if cell is not None:
        i, j = cell[:2]
        nodes |= {(i, j), (i + 1, j), (i, j + 1), (i + 1, j + 1)}
    return sorted(nodes)


@dataclass
class Points:
    """What :func:`evaluate_points` evaluated: metrics per node name (``g{i}_{j}``, ``anchor:{name}`` as in a
    surface's shards) on the training subset and on the dev set, the region's fill and its nodes past the edge."""
    alpha: np.ndarray
    beta: np.ndarray
    train: dict[str, dict[str, float]] = field(default_factory=dict)
    dev: dict[str, dict[str, float]] = field(default_factory=dict)
    coords: dict[str, tuple[float, float]] = field(default_factory=dict)
    seed: Node = (0, 0)
    region: list[Node] = field(default_factory=list)
    censored: bool = False
    evaluated: dict[Node, float] = field(default_factory=dict)  # the fill's train loss, past the edge included


def evaluate_points(alpha, beta, train: Evaluator, dev: Evaluator | None, tau: float, budget: int, window: float | None,
                    final: tuple[float, float] | None = None, anchors: dict = ANCHORS["surface"],
                    theta1: dict | None = None) -> Points:
    """Evaluate the anchors, C1's region from theta1 (train loss <= f(end) + ``tau``, at most ``budget`` nodes past
    the grid's edge) and :func:`claim_nodes`. ``train`` / ``dev``: a list of (alpha, beta) -> one metrics dict
    each, on the training subset / the dev set (called once per batch of nodes: the anchors, each wave, the
    claim nodes); ``dev`` None: nothing on the dev set (no claim node needs it)."""
    lat = Lattice(alpha, beta)
    pts = Points(lat.alpha, lat.beta)

    def run(names: list[str], where: list[tuple[float, float]], sets: tuple[str, ...]) -> None:
        if not names:
            return
        pts.coords.update(zip(names, where))
        for s, f in (("train", train), ("dev", dev)):
            if s in sets and f is not None:
                getattr(pts, s).update(zip(names, f(where), strict=True))

    run([f"anchor:{n}" for n in anchors], list(anchors.values()), ("train", "dev"))
    end = anchors["end"]
    pts.seed = (nearest(lat.alpha, end[0]), nearest(lat.beta, end[1]))

    def wave(nodes: list[Node]) -> list[float]:  # one engine call: the grid's nodes are kept, the rest is the region's
        got = train([lat.at(*n) for n in nodes])
        for n, v in zip(nodes, got, strict=True):
            if lat.inside(*n):
                pts.coords[f"g{n[0]}_{n[1]}"], pts.train[f"g{n[0]}_{n[1]}"] = lat.at(*n), v
        return [v["train_loss"] for v in got]

    f_end = pts.train["anchor:end"]["train_loss"]
    pts.region, pts.censored, pts.evaluated = follow(lat, pts.seed, f_end + tau, wave, budget)
    todo = claim_nodes(lat.alpha, lat.beta, window, final, theta1)
    fresh = [n for n in todo if f"g{n[0]}_{n[1]}" not in pts.train]
    run([f"g{i}_{j}" for i, j in fresh], [lat.at(*n) for n in fresh], ("train",))
    run([f"g{i}_{j}" for i, j in todo], [lat.at(*n) for n in todo], ("dev",))
    return pts


def points_grid(pts: Points, attrs: dict) -> Grid:
    """The points as a surface-shaped grid: NaN and not ``done`` where nothing was evaluated; a node evaluated on
    the training subset only has NaN dev metrics (``done`` marks the training side)."""
    shape = (len(pts.alpha), len(pts.beta))
    metrics = sorted({m for d in (pts.train, pts.dev) for v in d.values() for m in v})
    values = {m: np.full(shape, np.nan) for m in metrics}
    done = np.zeros(shape, dtype=bool)
    anchors = {}
    for name, (a, b) in pts.coords.items():
        v = {**pts.train.get(name, {}), **pts.dev.get(name, {})}
        if name.startswith("anchor:"):
            anchors[name[7:]] = {"alpha": a, "beta": b, **v}
            continue
        i, j = map(int, name[1:].split("_"))
        for m, x in v.items():
            values[m][i, j] = x
        done[i, j] = name in pts.train
    counts = {"points_train_nodes": int(done.sum()),
              "points_dev_nodes": sum(not n.startswith("anchor:") for n in pts.dev),
              "points_past_edge": sum(not Lattice(pts.alpha, pts.beta).inside(*n) for n in pts.evaluated)}
    return Grid("surface", pts.alpha, pts.beta, values, done, anchors, {**attrs, **counts})


def points_region(pts: Points, grid: Grid, tau: float, budget: int) -> dict:
    """C1's region as the ``basin`` rule records it (:func:`bertscape.basins.extend`'s keys), from the points."""
    return region_record(Lattice(pts.alpha, pts.beta), pts.seed, pts.region, pts.censored, pts.evaluated,
                         basin(grid, "train_loss", tau), budget)


def precision_of(engines: dict, pts: Points, n_nodes: int, seed: int, budget: float, path: str | os.PathLike) -> dict:
    """The accuracy contract (:func:`bertscape.accuracy.check`) of each engine over the nodes it evaluated, merged
    as a gather merges shards; the budget binds the training loss (as on a surface), the dev side is recorded."""
    return merge([check(engines[s], getattr(pts, s), pts.coords, n_nodes, seed + k, budget, path, s == "train")
                  for k, s in enumerate(("train", "dev")) if s in engines])


def run_points(spec: EngineSpec, axis: list, tau: float, budget: int, window: float | None,
               final: tuple[float, float] | None, out: str | os.PathLike, names: dict, about: dict,
               theta1: dict | None = None) -> dict:
    """The ``points`` rule: evaluate :func:`evaluate_points` on the surface's lattice ``axis`` = [min, max, points]
    with one engine per evaluation set, write the points grid to ``out`` (attributes as a gathered surface's,
    plus the counts of nodes evaluated) and return C1's region as the ``basin`` rule records it."""
    engines, info, stats, batches = open_engines(spec)
    alpha = np.linspace(*axis[:2], int(axis[2]))
    dev = evaluator(engines["dev"]) if "dev" in engines else None  # spec.dev None: a control's points
    pts = evaluate_points(alpha, alpha.copy(), evaluator(engines["train"]), dev, tau, budget, window, final,
                          theta1=theta1)
    ev = spec.ev
    precision = precision_of(engines, pts, ev["precision_nodes"], spec.seed * 1009, ev["precision_budget"], out)
    stats.pop("provenance", None)
    flops = sum(e.useful_flops() for e in engines.values())
    grid = points_grid(pts, {**names, **run_attrs(spec, axis, batches, flops), **about, **stats, **info, **precision})
    write_grid(out, grid)
    return {**points_region(pts, grid, tau, budget), "evaluated_in": engines["train"].dtype}


def evaluator(engine) -> Evaluator:
    """A batch of (alpha, beta) -> the engine's metrics at each, in order."""
    return lambda where: [engine.evaluate(a, b) for a, b in where]
