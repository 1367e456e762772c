"""The flatness record at theta1 (issue 25, items 3 and 4): the Hessian's spectrum and sharpness that rescaling
cannot fake, in one call, from the config's ``flatness`` block.

- Lanczos on H (top ``lanczos.top`` eigenvalues and the smallest, with residuals; :mod:`bertscape.spectrum`),
- Hutchinson's trace of H with its standard error,
- the top eigenvalue of D H D, D = diag(|theta1|), by Lanczos,
- adaptive worst-case sharpness (ASAM) at each rho, the largest over ``restarts`` seeded starts, and the
  spread over those starts; average-case sharpness (magnitude-aware Gaussian) at each sigma: mean +- SE
  (:mod:`bertscape.adaptive_sharpness`).

All on one seeded training subset (:func:`flatness_indices`): ``flatness.examples`` examples, or by default the
training-loss surfaces' own subset of ``eval.train_subset``. Every random start is seeded from the run's seed; the weights are restored.
"""

from __future__ import annotations

import math

import torch

from .adaptive_sharpness import average_case, worst_case
from .batches import Batch, make_batches, subset
from .spectrum import hessian_extremes, hessian_trace
from .stats import mean_sd_se

SEED_OFFSET = 2  # the flatness subset's seed is seed + 2 (eval_batches uses seed and seed + 1)


def flatness_indices(n: int, examples: int | None, train_subset: int | None, seed: int) -> torch.Tensor:
    """The training examples the flatness measures use: with ``examples`` None the surfaces' own seeded subset of
    ``train_subset`` (eval.train_subset; the power iteration's too), else a seeded subset of ``examples``
    (seed + 2)."""
    return subset(n, train_subset, seed) if examples is None else subset(n, examples, seed + SEED_OFFSET)


def disjoint_subsets(n: int, size: int, count: int, seed: int) -> list[torch.Tensor]:
    """``count`` disjoint seeded subsets of ``size`` of ``n`` example indices (for the spread over subsets)."""
    if size * count > n:
        raise ValueError(f"{count} disjoint subsets of {size} need {size * count} examples, the set has {n}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + SEED_OFFSET))
    return [torch.sort(perm[i * size:(i + 1) * size]).values for i in range(count)]


def flatness_batches(train: dict, examples: int | None, ev: dict, seed: int) -> list[Batch]:
    """Batches of :func:`flatness_indices`; ``ev``: the config's eval block (train_subset, batch_tokens)."""
    idx = flatness_indices(len(train["labels"]), examples, ev["train_subset"], seed)
    return make_batches(train, idx, "train", ev["batch_tokens"])


def measure(model, batches: list[Batch], fl: dict, seed: int) -> dict:
    """Every flatness measure of the config's ``flatness`` block ``fl`` at the model's weights."""
    lz, wc, ac = fl["lanczos"], fl["worst_case"], fl["average_case"]
    spectrum = hessian_extremes(model, batches, lz["steps"], seed, top=lz["top"], rtol=lz["rtol"])
    relative = hessian_extremes(model, batches, fl["relative_steps"], seed + 1, top=1, rtol=lz["rtol"], relative=True)
    trace = hessian_trace(model, batches, fl["probes"], seed)
    starts = [worst_case(model, batches, wc["rhos"], wc["steps"], seed + r) for r in range(wc["restarts"])]
    worst = []
    for k, rho in enumerate(wc["rhos"]):
        vals = [s["values"][k]["sharpness"] for s in starts]
        m = mean_sd_se(vals)
        worst.append({"rho": rho, "rho_rms": starts[0]["values"][k]["rho_rms"], "sharpness": max(vals),
                      "restarts": vals, "restart_sd": m["sd"]})
    avg = average_case(model, batches, ac["sigmas"], ac["draws"], seed)
    drop = lambda d, *keys: {k: v for k, v in d.items() if k not in keys}
    return {
        "examples": sum(len(b.labels) for b in batches),
        "lanczos": drop(spectrum, "ritz", "residual"),
        "ritz": spectrum["ritz"], "residual": spectrum["residual"],
        "relative": drop(relative, "ritz", "residual"),
        "trace": drop(trace, "values"), "trace_probes": trace["values"],
        "worst_case": {"f_theta1": starts[0]["f_theta1"], "steps": wc["steps"], "values": worst},
        "average_case": {"f_theta1": avg["f_theta1"], "draws": ac["draws"],
                         "values": [drop(v, "values") | {"draws_values": v["values"]} for v in avg["values"]]},
    }


def summary(rec: dict) -> dict[str, float]:
    """The record's headline numbers, one finite-or-NaN float each (the claims rows read these)."""
    wc, ac = rec["worst_case"]["values"], rec["average_case"]["values"]
    out = {"lambda_max": rec["lanczos"]["lambda_max"], "residual_max": rec["lanczos"]["residual_max"],
           "lambda_min": rec["lanczos"]["lambda_min"], "residual_min": rec["lanczos"]["residual_min"],
           "trace": rec["trace"]["trace"], "trace_se": rec["trace"]["se"],
           "dhd_lambda_max": rec["relative"]["lambda_max"], "dhd_residual": rec["relative"]["residual_max"]}
    out.update({f"worst_case_rho{v['rho']:g}": v["sharpness"] for v in wc})
    out.update({f"average_case_sigma{v['sigma']:g}": v["mean"] for v in ac})
    return {k: float(v) if v is not None and math.isfinite(float(v)) else float("nan") for k, v in out.items()}
