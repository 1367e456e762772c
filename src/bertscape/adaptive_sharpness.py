"""Sharpness that rescaling cannot fake: adaptive worst-case (Kwon et al. 2021, ASAM; Andriushchenko et al. 2023)
and magnitude-aware average-case sharpness (Jiang et al. 2020) of the training loss at theta1.

Perturbations are eps = T * z over the encoder's parameters (the head fixed), with T = |theta1| elementwise
(``adaptive``; T = 1 gives the plain, non-adaptive versions for comparison). Because eps scales with each weight,
a rescaling that leaves the network's function unchanged (query weights times c, key weights divided by c;
value times c, attention output divided by c) leaves both numbers unchanged too.

- worst case: S_max(rho) = max over ||z||_2 <= rho of L(theta1 + T z) - L(theta1), by projected normalised
  gradient ascent in z: ``steps`` steps of size ``step`` * rho from a seeded start of norm rho / 10, each
  projected back onto the ball; the value is the largest rise seen at any iterate (a lower bound of the max).
- average case: S_avg(sigma) = E_{z ~ N(0, sigma^2 I)} L(theta1 + T z) - L(theta1) over ``draws`` seeded draws:
  mean, sample sd and standard error.

Units: rho bounds the whole vector z of N entries, so rho / sqrt(N) (``rho_rms``) is the root-mean-square relative
change of a weight at the ball's surface; sigma is already per weight. MiniLM-L6's encoder has N = 22.7M, so
rho = 4.8 is an rms relative change of 1e-3.

The loss is the task's mean over the given batches (the seeded training subset the Hessian uses). The model's
weights are restored when a call returns.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch

from .batches import Batch
from .metrics import task_loss
from .modeling import batch_inputs
from .sharpness import encoder_params
from .stats import mean_sd_se

Vec = list[torch.Tensor]


def mean_loss(model, params: Vec, batches: list[Batch], grad: bool) -> tuple[float, Vec | None]:
    """The mean loss over all batches and, with ``grad``, its gradient in ``params`` (one batch's graph at a time)."""
    device = params[0].device
    n = sum(len(b.labels) for b in batches)
    total, grads = 0.0, [torch.zeros_like(p) for p in params] if grad else None
    for b in batches:
        mask = None if b.mask is None else b.mask.to(device)
        with torch.set_grad_enabled(grad):
            logits = model(**batch_inputs(model, b.ids.to(device), b.types.to(device), mask)).logits
            loss = task_loss(logits, b.labels.to(device), reduction="sum") / n
        if grad:
            for acc, g in zip(grads, torch.autograd.grad(loss, params)):
                acc += g
        total += float(loss.detach())
    return total, grads


@contextmanager
def perturbed(params: Vec):
    """Yields set(eps): params <- theta + eps; theta is restored on exit."""
    theta = [p.detach().clone() for p in params]

    def put(eps: Vec | None) -> None:
        with torch.no_grad():
            for p, t, e in zip(params, theta, eps or [None] * len(params)):
                p.copy_(t if e is None else t + e)

    try:
        yield put
    finally:
        put(None)


def vnorm(v: Vec) -> float:
    return math.sqrt(sum(float((x.double() ** 2).sum()) for x in v))


def at_weights(model, batches: list[Batch], adaptive: bool) -> tuple[Vec, Vec, float]:
    """(the encoder's parameters, T = |theta| or ones, the loss at the model's weights)."""
    params = encoder_params(model)
    T = [p.detach().abs() if adaptive else torch.ones_like(p) for p in params]
    return params, T, mean_loss(model, params, batches, grad=False)[0]


def gaussian(params: Vec, gen: torch.Generator, scale: float) -> Vec:
    """A seeded N(0, scale^2 I) draw shaped like ``params`` (drawn in float64, whatever the parameters' dtype)."""
    return [torch.randn(p.shape, generator=gen, dtype=torch.float64).to(p) * scale for p in params]


def worst_case(model, batches: list[Batch], rhos: list[float], steps: int, seed: int, step: float = 0.25,
               adaptive: bool = True) -> dict:
    """Adaptive worst-case sharpness S_max(rho) for each rho (see the module docstring) at the model's weights."""
    params, T, f0 = at_weights(model, batches, adaptive)
    n, out = sum(p.numel() for p in params), []
    with perturbed(params) as put:
        for rho in rhos:
            z = gaussian(params, torch.Generator().manual_seed(seed), 1.0)
            nz = vnorm(z)
            z = [x * (rho / 10 / nz) for x in z]
            history = []
            for it in range(steps + 1):
                put([t * x for t, x in zip(T, z)])
                f, g = mean_loss(model, params, batches, grad=it < steps)
                history.append(f - f0)
                if it == steps:
                    break
                gz = [t * x for t, x in zip(T, g)]  # dL/dz = T * dL/deps
                ng = vnorm(gz)
                if ng == 0:
                    break
                z = [x + (step * rho / ng) * y for x, y in zip(z, gz)]
                nz = vnorm(z)
                if nz > rho:
                    z = [x * (rho / nz) for x in z]
            out.append({"rho": rho, "rho_rms": rho / math.sqrt(n), "sharpness": max(history), "final": history[-1],
                        "history": history})
    return {"f_theta1": f0, "adaptive": adaptive, "steps": steps, "step": step, "values": out,
            "examples": sum(len(b.labels) for b in batches), "dimension": n}


def average_case(model, batches: list[Batch], sigmas: list[float], draws: int, seed: int,
                 adaptive: bool = True) -> dict:
    """Magnitude-aware average-case sharpness S_avg(sigma) for each sigma: mean, sd, se over ``draws`` draws."""
    params, T, f0 = at_weights(model, batches, adaptive)
    out = []
    with perturbed(params) as put:
        for sigma in sigmas:
            gen = torch.Generator().manual_seed(seed)
            vals = []
            for _ in range(draws):
                put([t * x for t, x in zip(T, gaussian(params, gen, sigma))])
                vals.append(mean_loss(model, params, batches, grad=False)[0] - f0)
            m = mean_sd_se(vals)
            out.append({"sigma": sigma, "mean": m["mean"], "sd": m["sd"], "se": m["se"], "values": vals})
    return {"f_theta1": f0, "adaptive": adaptive, "draws": draws, "values": out,
            "examples": sum(len(b.labels) for b in batches)}
