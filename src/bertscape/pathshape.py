"""C2's straight path theta0 -> theta1 on a dense alpha grid: how much the loss rises on the way down, and how
rough the path is relative to its own loss range (the paper's "the path from random initial point ... is more
rough"). The path is the ``path`` rule's curve over alpha in [0, 1] (``claims.path_points`` nodes; its anchors
at alpha 0 and 1 are the exact theta0 and theta1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .h5io import Grid


def path_values(curve: Grid, metric: str = "train_loss") -> tuple[np.ndarray, np.ndarray]:
    """(alpha, loss) along the path in alpha order: the nodes in [0, 1], with the anchors' exact values at 0 and
    1 (replacing a node there)."""
    x, y = np.asarray(curve.alpha, float), np.asarray(curve.values[metric], float)
    keep = (x > 1e-9) & (x < 1 - 1e-9)
    a = np.concatenate([[0.0], x[keep], [1.0]])
    f = np.concatenate([[curve.anchors["start"][metric]], y[keep], [curve.anchors["end"][metric]]])
    return a, f


def roughness(loss) -> dict:
    """``ascent``: the sum of the positive increments between consecutive nodes (0 for a monotone descent);
    ``range``: max - min of the loss along the path; ``roughness``: ascent / range (dimensionless, so paths of
    different loss scales compare; 0 for a monotone path, NaN for a constant one); ``nodes``: how many."""
    f = np.asarray(loss, float)
    if f.size < 2 or not np.isfinite(f).all():
        return {"ascent": float("nan"), "range": float("nan"), "roughness": float("nan"), "nodes": int(f.size)}
    ascent = float(np.clip(np.diff(f), 0, None).sum())
    rng = float(f.max() - f.min())
    return {"ascent": ascent, "range": rng, "roughness": ascent / rng if rng > 0 else float("nan"),
            "nodes": int(f.size)}


def path_shape(curve: Grid, metric: str = "train_loss") -> dict:
    """:func:`roughness` of the dense path (:func:`path_values`)."""
    return roughness(path_values(curve, metric)[1])
