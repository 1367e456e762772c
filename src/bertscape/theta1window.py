"""C4's pre-registered window around theta1 that excludes the theta0 side (``claims.theta1_window``, fixed in
config before the runs): the box alpha_min <= alpha <= alpha_max, |beta| <= beta_max, plus the beta-transect
through theta1 (the alpha node nearest 1, |beta| <= transect). The old window (a box of half-width
``claims.window`` around (1, 0)) reaches alpha = 0 at the default width, where "trained beats untrained" makes a
positive rank correlation nearly automatic; this one keeps only nodes on theta1's side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .measures import nearest, spearman

if TYPE_CHECKING:
    from .h5io import Grid

EPS = 1e-9


def theta1_mask(alpha, beta, w: dict) -> np.ndarray:
    """[i_alpha, j_beta] mask of the window ``w`` (keys alpha_min, alpha_max, beta_max, transect)."""
    a, b = np.asarray(alpha, float), np.asarray(beta, float)
    A, B = np.meshgrid(a, b, indexing="ij")
    box = (A >= w["alpha_min"] - EPS) & (A <= w["alpha_max"] + EPS) & (np.abs(B) <= w["beta_max"] + EPS)
    transect = np.zeros_like(box)
    transect[nearest(a, 1.0), :] = np.abs(b) <= w["transect"] + EPS
    return box | transect


def theta1_spearman(grid: Grid, w: dict, loss_metric: str = "train_loss", error_metric: str = "dev_error") -> dict:
    """Spearman(train loss, dev error) over the window's nodes where both are finite; ``min_alpha``: the smallest
    alpha among them (>= alpha_min unless the transect's node lies below it)."""
    near = theta1_mask(grid.alpha, grid.beta, w)
    x, y = np.asarray(grid.values[loss_metric])[near], np.asarray(grid.values[error_metric])[near]
    keep = np.isfinite(x) & np.isfinite(y)
    A = np.broadcast_to(np.asarray(grid.alpha, float)[:, None], near.shape)[near][keep]
    return {"rho": spearman(x[keep], y[keep]), "nodes": int(keep.sum()),
            "min_alpha": float(A.min()) if A.size else float("nan")}
