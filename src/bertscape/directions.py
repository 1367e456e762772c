"""Directions of eqs 1-2: delta1 = theta1 - theta0, delta2 = theta2 - theta0 rescaled to ||delta1||.

Only encoder ("BERT") parameters enter a direction (paper §3.1): the task head is kept
fixed at theta1's learned values, so head parameters never appear here.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import BertscapeError

State = dict[str, torch.Tensor]


def encoder_keys(state: State, prefix: str) -> list[str]:
    return sorted(k for k, v in state.items() if k.startswith(prefix) and v.is_floating_point())


def difference(theta: State, theta0: State, keys: list[str]) -> State:
    missing = [k for k in keys if k not in theta or k not in theta0]
    if missing:
        raise BertscapeError(f"checkpoints disagree on parameter {missing[0]}")
    return {k: theta[k].float() - theta0[k].float() for k in keys}


def dot(a: State, b: State) -> float:
    """Sum over parameters of <a, b> in float64, by numpy's pairwise summation: the same bits whatever torch's
    thread count (torch's dot and sum split the work by thread, so a job with another ``threads`` setting would
    read another norm for the same checkpoints and refuse its own directions file)."""
    f64 = lambda t: t.detach().reshape(-1).to("cpu", torch.float64).numpy()
    return float(sum(np.sum(f64(a[k]) * f64(b[k])) for k in a))


def norm(a: State) -> float:
    return math.sqrt(dot(a, a))


def scaled(a: State, factor: float) -> State:
    return {k: v * factor for k, v in a.items()}


def same_point(a: State, b: State, keys: list[str]) -> bool:
    return all(torch.equal(a[k], b[k]) for k in keys)


def join(delta1: State, delta2: State) -> State:
    """The directions file's tensors: ``delta1.<param>`` and ``delta2.<param>``."""
    return {**{f"delta1.{k}": v for k, v in delta1.items()}, **{f"delta2.{k}": v for k, v in delta2.items()}}


def split(tensors: State) -> tuple[State, State]:
    """(delta1, delta2) back from the directions file's tensors (see :func:`join`)."""
    return tuple({k[len(f"delta{i}."):]: v for k, v in tensors.items() if k.startswith(f"delta{i}.")}
                 for i in (1, 2))


def make_directions(theta0: State, theta1: State, theta0_other: State, theta2: State, prefix: str):
    """Return (delta1, delta2 rescaled to ||delta1||, stats) over encoder parameters only."""
    keys = encoder_keys(theta0, prefix)
    if not same_point(theta0, theta0_other, keys):
        raise BertscapeError("theta0 of the other task's run differs from this run's theta0: "
                             "delta2 must start from the same point (same init and seed)")
    delta1 = difference(theta1, theta0, keys)
    delta2 = difference(theta2, theta0, keys)
    n1, n2 = norm(delta1), norm(delta2)
    if n1 == 0 or n2 == 0:
        raise BertscapeError("a direction has zero norm: did training update the encoder?")
    stats = {"norm_delta1": n1, "norm_delta2_raw": n2, "cos_delta1_delta2": dot(delta1, delta2) / (n1 * n2),
             "n_params": int(sum(v.numel() for v in delta1.values()))}
    return delta1, scaled(delta2, n1 / n2), stats
