"""Filter-normalised random directions at theta1 (Li et al. 2018) and the 1D curves along them.

A direction d is a seeded Gaussian over the encoder's parameters in which every row of every matrix -- a
linear layer's output unit (its "filter") or one embedding vector (one token, position or segment) -- is
rescaled to the norm of theta1's same row: ||d_row|| = ||theta1_row||. Vectors (biases, LayerNorm weights and
biases) are zeroed: they have no filters, and tomgoldstein/loss-landscape's ``ignore='biasbn'`` does the same.
A row of theta1 that is all zeros gets a zero row. Moving by alpha along d therefore changes every filter by
the fraction alpha of its own size, so curves at theta1 + alpha d compare across models whose weights have
different scales -- which ||delta1|| units do not.

The curve itself is the landscape engine's: J(theta1 + alpha d), task head fixed at theta1's values.
"""

from __future__ import annotations

import numpy as np
import torch

from .batches import Batch
from .directions import State
from .h5io import Grid
from .landscape import make_engine
from .measures import curve_width
from .stats import mean_sd_se


def filter_normalized(theta1: State, keys: list[str], seed: int) -> State:
    """One seeded filter-normalised direction over ``keys`` of ``theta1`` (fp32; drawn in sorted key order, so the
    same seed and keys give the same direction whatever order ``keys`` come in)."""
    gen = torch.Generator().manual_seed(seed)
    out: State = {}
    for k in sorted(keys):
        w = theta1[k].float()
        d = torch.randn(w.shape, generator=gen, dtype=torch.float32)
        if w.dim() < 2:  # biases and LayerNorm parameters: no filters, not moved
            out[k] = torch.zeros_like(w)
            continue
        rows, drows = w.reshape(w.shape[0], -1), d.reshape(w.shape[0], -1)
        scale = rows.norm(dim=1, keepdim=True) / drows.norm(dim=1, keepdim=True).clamp_min(1e-30)
        out[k] = (drows * scale).reshape(w.shape)
    return out


def row_norms(state: State) -> dict[str, torch.Tensor]:
    """Norm of every row (dim 0) of every matrix of ``state``; vectors are left out."""
    return {k: v.float().reshape(v.shape[0], -1).norm(dim=1) for k, v in state.items() if v.dim() >= 2}


def along(config, theta1: State, direction: State, batches: list[Batch], alpha, dtype: str = "fp32") -> np.ndarray:
    """The training loss (the batches' ``train`` set) at theta1 + a * direction for every a in ``alpha``, and at
    a = 0 last (f(theta1): the same number whatever the direction, since base + 0 * d is base exactly)."""
    engine = make_engine(config, theta1, direction, None, batches, dtype=dtype)
    return np.array([engine.evaluate(float(a))["train_loss"] for a in [*alpha, 0.0]])


def curve_measures(alpha, loss, f0: float, tau: float, radii: list[float]) -> dict:
    """Width of the interval around alpha = 0 where the curve stays <= f0 + tau (crossings interpolated, censored
    when it reaches an end of the axis), and the loss rise L(+-r) - f0 at each radius r (linear interpolation on
    the axis; NaN outside it). ``alpha`` must contain 0 (theta1) or straddle it."""
    x, y = np.asarray(alpha, float), np.asarray(loss, float)
    grid = Grid("curve", x, None, {"train_loss": y}, np.ones(len(x), bool), {"end": {"alpha": 0.0, "train_loss": f0}})
    width = curve_width(grid, "train_loss", tau)
    rise = {}
    for r in radii:
        up, down = (float(np.interp(s, x, y, left=np.nan, right=np.nan)) - f0 for s in (r, -r))
        rise[str(r)] = {"plus": up, "minus": down, "mean": (up + down) / 2}
    return {"width": width["width"], "left": width["left"], "right": width["right"], "censored": width["censored"],
            "rise": rise}


def local_width(per_direction: list[dict], half: float) -> dict:
    """Item 5 of issue 25 on the K directions: the radius of the largest ball around theta1 that stays inside the
    sublevel set f <= f(theta1) + tau as far as the K lines through theta1 see it -- the smallest distance from
    alpha = 0 to a crossing, min over directions of min(-left, right). Censored when no direction crosses inside
    the axis on either side: then the radius is at least ``half`` (the axis' half-length)."""
    sides = [(-m["left"], m["left"] <= -half) for m in per_direction] + [(m["right"], m["right"] >= half)
                                                                          for m in per_direction]
    ends = [x for x, at_edge in sides if np.isfinite(x) and not at_edge]
    return {"radius": float(min(ends)) if ends else float(half), "censored": not ends}


def lattice_local_width(alpha, beta, loss, f0: float, tau: float) -> dict:
    """Item 5 on a 2D lattice (loss[i, j] at (alpha[i], beta[j])): the distance from (0, 0) to the nearest node
    above f0 + tau -- the largest ball around theta1 that holds no such node, exact up to one lattice step.
    Censored when no node is above: then the radius is at least the distance to the lattice's nearest edge."""
    a, b = np.meshgrid(np.asarray(alpha, float), np.asarray(beta, float), indexing="ij")
    out = np.asarray(loss, float) > f0 + tau
    if not out.any():
        return {"radius": float(min(-a.min(), a.max(), -b.min(), b.max())), "censored": True}
    return {"radius": float(np.hypot(a[out], b[out]).min()), "censored": False}


def summarize(per_direction: list[dict], radii: list[float], half: float = float("inf")) -> dict:
    """Mean and sample sd over directions of the width and of the mean rise at each radius, and the local width
    (the C1 numbers). ``half``: the axis' half-length (a crossing there is the edge, not a crossing)."""
    ms = mean_sd_se
    return {"width": ms([m["width"] for m in per_direction]),
            "censored": sum(bool(m["censored"]) for m in per_direction),
            "rise": {str(r): ms([m["rise"][str(r)]["mean"] for m in per_direction]) for r in radii},
            "local_width": local_width(per_direction, half)}


def filter_curves(config, theta1: State, keys: list[str], batches: list[Batch], seeds: list[int], alpha,
                  tau: float, radii: list[float], dtype: str = "fp32") -> dict:
    """K = len(seeds) filter-normalised 1D curves at theta1: each direction's curve and measures, and their
    summary. ``theta1``: the whole model (its head stays fixed); ``keys``: the encoder parameters."""
    alpha = np.asarray(alpha, float)
    per, f0 = [], float("nan")
    for s in seeds:
        loss = along(config, theta1, filter_normalized(theta1, keys, s), batches, alpha, dtype)
        loss, f0 = loss[:-1], float(loss[-1])
        per.append({"seed": s, "loss": loss.tolist(), **curve_measures(alpha, loss, f0, tau, radii)})
    return {"f_theta1": f0, "alpha": alpha.tolist(), "tau": tau, "radii": list(radii), "directions": per,
            "summary": summarize(per, radii, float(min(-alpha.min(), alpha.max())))}


def filter_surface(config, theta1: State, keys: list[str], batches: list[Batch], seeds: tuple[int, int], axis,
                   tau: float, dtype: str = "fp32") -> Grid:
    """The training loss on the square lattice theta1 + a d1 + b d2 (a, b in ``axis``, which must hold 0), d1 and d2
    the filter-normalised directions of ``seeds``: a 2D surface beside Figure 1, theta1 at its centre (anchor
    ``end`` at (0, 0)), with its lattice local width (:func:`lattice_local_width`) in its attrs."""
    axis = np.asarray(axis, float)
    if not np.any(axis == 0.0):
        raise ValueError("filter_surface: the axis must hold 0 (theta1)")
    d1, d2 = (filter_normalized(theta1, keys, s) for s in seeds)
    engine = make_engine(config, theta1, d1, d2, batches, dtype=dtype)
    loss = np.array([[engine.evaluate(float(a), float(b))["train_loss"] for b in axis] for a in axis])
    c = int(np.flatnonzero(axis == 0.0)[0])
    f0 = float(loss[c, c])
    lw = lattice_local_width(axis, axis, loss, f0, tau)
    return Grid("surface", axis, axis.copy(), {"train_loss": loss}, np.ones(loss.shape, bool),
                {"end": {"alpha": 0.0, "beta": 0.0, "train_loss": f0}},
                {"directions": "filter_normalized", "direction_seeds": list(seeds), "tau": tau,
                 "local_width": lw["radius"], "local_width_censored": lw["censored"]})
