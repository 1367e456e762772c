"""Optimisation trajectory projected onto the (delta1, delta2) plane, eqs 3-5."""

from __future__ import annotations

import math

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .directions import State


def project(delta_i: State, delta1: State) -> dict[str, float]:
    """Eqs 3-5 of the displacement delta_i = theta_i - theta0 against delta1 (see :func:`project_products`)."""
    from .directions import dot  # (torch: only here; the trajectory rule itself works on the train job's numbers)

    return project_products(dot(delta_i, delta1), dot(delta_i, delta_i), dot(delta1, delta1))


def project_products(dot_i1: float, nisq: float, n1sq: float) -> dict[str, float]:
    """d_alpha = <delta_i, delta1>/||delta1||^2;  d_beta = sqrt(||delta_i||^2/||delta1||^2 - d_alpha^2), from the
    inner products (``dot_i1`` = <delta_i, delta1>, ``nisq`` = ||delta_i||^2, ``n1sq`` = ||delta1||^2).

    The radicand can fall a few ulps below zero when delta_i is parallel to delta1; it is
    clamped at zero (and the clamp is reported).
    """
    d_alpha = dot_i1 / n1sq
    radicand = nisq / n1sq - d_alpha**2
    v_cos = dot_i1 / math.sqrt(nisq * n1sq) if nisq > 0 else float("nan")
    return {"d_alpha": d_alpha, "d_beta": math.sqrt(max(radicand, 0.0)), "cos": v_cos,
            "norm_ratio": math.sqrt(nisq / n1sq), "clamped": radicand < 0}


def error_norm(err2: float, n1sq: float) -> float:
    """Bound on |error| of d_alpha and of d_beta (eqs 3-5) from a stored delta's squared rounding error
    ``err2`` = ||e||^2, with ``n1sq`` = ||delta1||^2.

    d_alpha = <delta_i, delta1>/||delta1||^2 moves by <e, delta1>/||delta1||^2 <= ||e||/||delta1||
    (Cauchy-Schwarz); d_beta = dist(delta_i, span(delta1))/||delta1|| is 1-Lipschitz in delta_i, so it
    moves by at most ||e||/||delta1|| too."""
    return math.sqrt(err2 / n1sq)
