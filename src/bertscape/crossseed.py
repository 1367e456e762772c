"""Cross-seed measures (Juneja et al. 2023): the training loss on the straight line between two seeds' theta1 and
its barrier, and the cosine of one task's delta1 under two seeds (C6's null).

The path is theta(t) = theta1_a + t (theta1_b - theta1_a), t in [0, 1], every floating-point parameter interpolated
(encoder and task head: two seeds' heads differ). Its value at a node is the mean training loss over both seeds'
seeded training subsets (each drawn as that seed's 1D curve draws it), so the path is the same read from either
end. The barrier is max_t f(t) - (f(0) + f(1)) / 2 over the nodes (>= 0; a peak between nodes is missed, so it is
a lower bound of the path's barrier).

Pairs: consecutive seeds in the config's order, (s1, s2), (s2, s3), ...: n - 1 paths per task and init. Pairs that
share a seed are not independent, so the tests over seeds use only the disjoint ones, (s1, s2), (s3, s4), ...
(:func:`disjoint`); the others are reported beside them.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .h5io import Grid
from .landscape import make_engine

State = dict[str, torch.Tensor]
NEEDS_TWO = "needs >= 2 seeds (a cross-seed measure; config key seeds)"


def seed_pairs(seeds: list[int]) -> list[tuple[int, int]]:
    """Consecutive seeds in the config's order: n - 1 pairs (none for one seed)."""
    return [(int(a), int(b)) for a, b in zip(seeds, seeds[1:])]


def disjoint(pairs: list[tuple[int, int]]) -> list[bool]:
    """Which pairs enter a test over seeds: the disjoint ones (the 1st, 3rd, ...), which share no seed."""
    return [k % 2 == 0 for k in range(len(pairs))]


def pair_name(a: int, b: int) -> str:
    return f"{a}~{b}"


def barrier(values) -> float:
    """max along the path minus the mean of its two ends (NaN if any node is not finite)."""
    v = np.asarray(values, dtype=float)
    if v.size < 2 or not np.isfinite(v).all():
        return float("nan")
    return float(v.max() - (v[0] + v[-1]) / 2)


def line_nodes(n: int) -> np.ndarray:
    """``n`` evenly spaced nodes over [0, 1] (both ends included)."""
    if n < 2:
        raise ValueError("a path needs at least 2 nodes")
    return np.linspace(0.0, 1.0, int(n))


def float_keys(state: State) -> list[str]:
    return sorted(k for k, v in state.items() if v.is_floating_point())


def delta_cos(theta0_a: State, theta1_a: State, theta0_b: State, theta1_b: State, keys: list[str]) -> dict:
    """cos(theta1_a - theta0_a, theta1_b - theta0_b) over ``keys``, one tensor at a time (float64 sums), and both
    norms: {cos, norm_a, norm_b}."""
    dot = na = nb = 0.0
    for k in keys:
        da = (theta1_a[k].double() - theta0_a[k].double()).flatten()
        db = (theta1_b[k].double() - theta0_b[k].double()).flatten()
        dot, na, nb = dot + float(da @ db), na + float(da @ da), nb + float(db @ db)
    cos = dot / math.sqrt(na * nb) if na > 0 and nb > 0 else float("nan")
    return {"cos": cos, "norm_a": math.sqrt(na), "norm_b": math.sqrt(nb)}


def line_engine(config, theta_a: State, theta_b: State, batches, dtype: str = "fp32"):
    """The landscape engine of J(theta_a + t (theta_b - theta_a)) over every floating-point parameter."""
    keys = float_keys(theta_a)
    if keys != float_keys(theta_b) or any(theta_a[k].shape != theta_b[k].shape for k in keys):
        raise ValueError("the two seeds' checkpoints hold different parameters")
    d = {k: theta_b[k].float() - theta_a[k].float() for k in keys}
    return make_engine(config, theta_a, d, None, batches, dtype=dtype)


def evaluate_line(engine, nodes: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric the engine returns at each node, as arrays aligned with ``nodes``."""
    rows = [engine.evaluate(float(t)) for t in nodes]
    return {m: np.array([r[m] for r in rows], dtype=float) for m in rows[0]}


def line_grid(nodes: np.ndarray, values: dict[str, np.ndarray], attrs: dict) -> Grid:
    """The path as a curve grid (alpha = t; anchors ``seed_a`` at t = 0 and ``seed_b`` at t = 1) with its barrier
    in the attrs (``barrier``, over ``train_loss``)."""
    anchors = {"seed_a": {"alpha": 0.0, "beta": 0.0, **{m: float(v[0]) for m, v in values.items()}},
               "seed_b": {"alpha": 1.0, "beta": 0.0, **{m: float(v[-1]) for m, v in values.items()}}}
    b = barrier(values["train_loss"])
    return Grid("curve", np.asarray(nodes, dtype=float), None, dict(values), np.ones(len(nodes), dtype=bool), anchors,
                {"target_kind": "seed_path", "barrier": b, **attrs})
