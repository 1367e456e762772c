"""The Hessian's spectrum at theta1, not one number: Lanczos for its extreme eigenvalues, Hutchinson for its trace.

Both act on the Hessian of the training loss over the encoder's parameters (the head fixed), through the exact
Hessian-vector products of :func:`bertscape.sharpness.hvp_operator` -- bit for bit :func:`bertscape.sharpness.hvp`,
the power iteration's.

Lanczos runs ``steps`` steps from a seeded unit vector with full reorthogonalisation (classical Gram-Schmidt,
twice, against every stored Lanczos vector), so Ritz values do not repeat as they do in plain Lanczos. Each Ritz
value theta_i comes with its residual r_i = ||H y_i - theta_i y_i|| = |beta_k s_i[k]|; for a symmetric H there is
an eigenvalue within r_i of theta_i, so the residual, not the change of an estimate between steps, says whether
an extreme eigenvalue has been found. That formula holds in exact arithmetic only: fp32 Hessian-vector products
differ from the exact ones by ~1e-4 relative, so for the largest and the smallest Ritz value the residual is also
computed explicitly with the operator (one product each) and the larger of the two is reported. The smallest Ritz value says whether theta1 is a minimum in the encoder's
space (negative curvature when it is below 0 by more than its residual).

``relative`` gives the spectrum of D H D instead, D = diag(|theta1|): the Hessian in the coordinates where each
parameter is measured relative to its own size (invariant to rescalings that leave the function unchanged).

Memory: ``steps`` + 3 vectors of the encoder's size in the parameters' dtype (MiniLM-L6, 22.7M fp32 parameters:
about 91 MB each).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from .batches import Batch
from .sharpness import encoder_params, hvp_operator
from .stats import mean_sd_se

Matvec = Callable[[torch.Tensor], torch.Tensor]


CHUNK = 1 << 16


def dot(a: torch.Tensor, b: torch.Tensor) -> float:
    """a . b of two flat vectors: dots over chunks of 65,536 entries in the vectors' dtype, summed exactly in
    float64 (``math.fsum``). Against a float64 dot of 22.7M fp32 entries: 2e-10 of |a| |b| off, 15x faster than
    converting both to float64 (0.016 s vs 0.23 s, one thread, AMD EPYC, 2026-12-05)."""
    if a.dtype == torch.float64 or a.numel() <= CHUNK:
        return float(torch.dot(a.double(), b.double()))
    return math.fsum(torch.stack([torch.dot(x, y) for x, y in zip(a.split(CHUNK), b.split(CHUNK))]).tolist())


def hessian_operator(model, batches: list[Batch], scale: list[torch.Tensor] | None = None) -> tuple[Matvec, int]:
    """(v -> H v on flat vectors, dimension) for the mean training loss over ``batches`` and the encoder's
    parameters; with ``scale`` (one tensor per encoder parameter) v -> D H D v, D = diag(scale)."""
    params = encoder_params(model)
    sizes = [p.numel() for p in params]
    d = None if scale is None else torch.cat([s.reshape(-1).to(params[0]) for s in scale])
    product = hvp_operator(model, params, batches)  # (one batch: its gradient's graph built once, for every product)

    def matvec(v: torch.Tensor) -> torch.Tensor:
        x = v if d is None else v * d
        out = torch.cat([h.reshape(-1) for h in product([c.view_as(p) for c, p in zip(x.split(sizes), params)])])
        return out if d is None else out * d

    return matvec, sum(sizes)


def lanczos(matvec: Matvec, n: int, steps: int, seed: int, device=None, dtype=torch.float32) -> dict:
    """``steps`` Lanczos steps with full reorthogonalisation from a seeded start: all Ritz values (ascending) with
    their residual norms, and how many steps ran (fewer when the Krylov space became invariant)."""
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(n, generator=gen, dtype=torch.float64)
    m = min(steps, n)
    Q = torch.empty(m, n, device=device, dtype=dtype)  # the Lanczos vectors, one per row
    Q[0] = (q / q.norm()).to(device=device, dtype=dtype)
    alphas, betas, beta_last = [], [], 0.0
    for j in range(m):
        w = matvec(Q[j]).to(dtype)
        alphas.append(dot(w, Q[j]))
        w -= alphas[-1] * Q[j]  # the three-term recurrence first: it removes w's large components
        if j > 0:
            w -= betas[-1] * Q[j - 1]
        norm = math.sqrt(dot(w, w))
        for _ in range(2):  # then full reorthogonalisation; a second pass only when the first cancelled much of w
            w -= Q[:j + 1].T @ (Q[:j + 1] @ w)  # ("twice is enough": Daniel, Gragg, Kaufman and Stewart 1976)
            norm, before = math.sqrt(dot(w, w)), norm
            if norm > 0.7 * before:
                break
        beta_last = norm
        if j == m - 1 or beta_last <= 1e-12 * max(abs(a) for a in alphas + [1e-30]):
            break
        betas.append(beta_last)
        Q[j + 1] = w / beta_last
    k = len(alphas)
    T = np.diag(alphas) + np.diag(betas[:k - 1], 1) + np.diag(betas[:k - 1], -1)
    theta, S = np.linalg.eigh(T)
    residual = np.abs(beta_last * S[-1, :])
    explicit = {}
    for name, i in (("min", 0), ("max", k - 1)):  # ||H y - theta y|| with the operator itself: two more products
        y = Q[:k].T @ torch.as_tensor(S[:, i], dtype=dtype, device=Q.device)
        y /= math.sqrt(dot(y, y))
        r = matvec(y).to(dtype) - theta[i] * y
        explicit[name] = math.sqrt(dot(r, r))
    return {"ritz": theta.tolist(), "residual": residual.tolist(), "explicit_residual_min": explicit["min"],
            "explicit_residual_max": explicit["max"], "steps": k, "dimension": n}


def extremes(result: dict, top: int, rtol: float) -> dict:
    """The ``top`` largest Ritz values and the smallest, each with its residual; converged (``_top``: the largest
    ``top``, ``_min``: the smallest, plain: all of them) when the residuals are <= rtol * (largest |Ritz value|)."""
    ritz, res = result["ritz"], list(result["residual"])
    res[0] = max(res[0], result["explicit_residual_min"])
    res[-1] = max(res[-1], result["explicit_residual_max"])
    bound = rtol * max(abs(x) for x in ritz)
    idx = list(range(len(ritz) - 1, max(len(ritz) - 1 - top, -1), -1))
    return {"lambda_max": ritz[-1], "residual_max": res[-1], "lambda_min": ritz[0], "residual_min": res[0],
            "top": [ritz[i] for i in idx], "top_residual": [res[i] for i in idx],
            "negative_curvature": ritz[0] + res[0] < 0, "converged_top": all(res[i] <= bound for i in idx),
            "converged_min": res[0] <= bound, "converged": all(res[i] <= bound for i in idx + [0]), "rtol": rtol}


def hessian_extremes(model, batches: list[Batch], steps: int, seed: int, top: int = 3, rtol: float = 1e-2,
                     relative: bool = False) -> dict:
    """Lanczos on the training-loss Hessian at the model's weights (``relative``: on D H D, D = diag(|theta|)):
    the ``top`` largest eigenvalues, the smallest, residuals, convergence, and every Ritz value."""
    params = encoder_params(model)
    matvec, n = hessian_operator(model, batches, [p.detach().abs() for p in params] if relative else None)
    r = lanczos(matvec, n, steps, seed, device=params[0].device, dtype=params[0].dtype)
    return {**extremes(r, top, rtol), **r, "examples": sum(len(b.labels) for b in batches), "relative": relative}


def hutchinson(matvec: Matvec, n: int, probes: int, seed: int, device=None, dtype=torch.float32) -> dict:
    """tr(H) ~ mean of v^T H v over ``probes`` seeded Rademacher vectors v: mean, sample sd, standard error."""
    gen = torch.Generator().manual_seed(seed)
    vals = []
    for _ in range(probes):
        v = (torch.randint(0, 2, (n,), generator=gen) * 2 - 1).to(device=device, dtype=dtype)
        vals.append(dot(v, matvec(v)))
    m = mean_sd_se(vals)
    return {"trace": m["mean"], "sd": m["sd"], "se": m["se"], "probes": m["n"], "values": vals}


def hessian_trace(model, batches: list[Batch], probes: int, seed: int) -> dict:
    """Hutchinson's estimate of the training-loss Hessian's trace at the model's weights (encoder parameters)."""
    matvec, n = hessian_operator(model, batches)
    p0 = encoder_params(model)[0]
    return {**hutchinson(matvec, n, probes, seed, device=p0.device, dtype=p0.dtype),
            "examples": sum(len(b.labels) for b in batches), "dimension": n}
