"""Optimisation trajectory projected onto the (delta1, delta2) plane, eqs 3-5."""

from __future__ import annotations

import math

from .directions import State, dot


def project(delta_i: State, delta1: State) -> dict[str, float]:
    """d_alpha = <delta_i, delta1>/||delta1||^2;  d_beta = sqrt(||delta_i||^2/||delta1||^2 - d_alpha^2).

    The radicand can fall a few ulps below zero when delta_i is parallel to delta1; it is
    clamped at zero (and the clamp is reported).
    """
    n1sq = dot(delta1, delta1)
    nisq = dot(delta_i, delta_i)
    d_alpha = dot(delta_i, delta1) / n1sq
    radicand = nisq / n1sq - d_alpha**2
    v_cos = dot(delta_i, delta1) / math.sqrt(nisq * n1sq) if nisq > 0 else float("nan")
    return {"d_alpha": d_alpha, "d_beta": math.sqrt(max(radicand, 0.0)), "cos": v_cos,
            "norm_ratio": math.sqrt(nisq / n1sq), "clamped": radicand < 0}
