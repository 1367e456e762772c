"""Deciding a claim over seeds: paired effects, an exact sign test, a bootstrap interval and a verdict.

The unit of replication is the seed (it fixes data, initialisation, order and dropout); fine-tuned and
scratch runs are paired within it. Each measure gives one *effect* per (task, seed), oriented so that
``> 0`` supports the paper (sizes as log-ratios, see :func:`log_ratio`). A *tie band* per measure, fixed
before the runs it decides (one lattice node of area, one curve step of width, one dev example, ...),
says which effects are too small to count either way.

* :func:`sign_test`: exact one-sided binomial tests on the effects outside the tie band (ties dropped);
* :func:`bootstrap_median`: percentile interval of the median effect, seeds resampled *within* task;
* :func:`decide`: **holds** when the sign test in the paper's direction rejects at ``alpha`` and the
  interval lies above the tie band, **does not hold** when the same holds in the opposite direction,
  **undecided** otherwise, **n/a** when no seed has a usable effect;
* :func:`holm`: Holm's step-down adjustment for a headline across measures.

Pure Python + NumPy: no SciPy at run time (the tests compare against SciPy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

HOLDS, DOES_NOT_HOLD, UNDECIDED, NA = "holds", "does not hold", "undecided", "n/a"


def mean_sd_se(values) -> dict:
    """Mean, sample sd (ddof 1; NaN for one value) and standard error of the mean of repeated draws (probes,
    perturbations, directions), with their count."""
    a = np.asarray(values, dtype=float)
    sd = float(a.std(ddof=1)) if len(a) > 1 else float("nan")
    return {"mean": float(a.mean()), "sd": sd, "se": sd / math.sqrt(len(a)), "n": len(a)}


def log_ratio(supporting: float, other: float) -> float:
    """log(supporting / other) for two positive sizes: > 0 when the size the paper expects to be larger is.
    NaN unless both are finite and positive (a zero or missing size has no ratio)."""
    if not (math.isfinite(supporting) and math.isfinite(other)) or supporting <= 0 or other <= 0:
        return float("nan")
    return math.log(supporting / other)


def binom_tail(k: int, n: int) -> float:
    """P(X >= k) for X ~ Binomial(n, 1/2), exactly (1.0 for k <= 0)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return sum(math.comb(n, i) for i in range(k, n + 1)) / 2 ** n


@dataclass(frozen=True)
class SignTest:
    positive: int  # effects > band
    negative: int  # effects < -band
    ties: int  # |effect| <= band
    p_greater: float  # one-sided: effects tend to be > 0 (the paper's direction)
    p_less: float  # one-sided: effects tend to be < 0


def sign_test(effects, band: float = 0.0) -> SignTest:
    """Exact sign test of the effects outside the tie band [-band, band] (ties dropped; NaNs ignored)."""
    x = np.asarray([e for e in effects if math.isfinite(e)], dtype=float)
    pos, neg = int((x > band).sum()), int((x < -band).sum())
    n = pos + neg
    return SignTest(pos, neg, len(x) - n, binom_tail(pos, n), binom_tail(neg, n))


def bootstrap_median(groups: dict[str, list[float]], n_boot: int = 10000, level: float = 0.95,
                     seed: int = 0) -> tuple[float, float, float]:
    """(median, low, high): the median of all effects and a percentile interval of it, resampling the seeds of
    each task (group) with replacement, independently per task, so every task keeps its number of seeds."""
    groups = {k: np.asarray([e for e in v if math.isfinite(e)], dtype=float) for k, v in groups.items()}
    groups = {k: v for k, v in groups.items() if len(v)}
    if not groups:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    allx = np.concatenate(list(groups.values()))
    draws = np.concatenate([v[rng.integers(0, len(v), size=(n_boot, len(v)))] for v in groups.values()], axis=1)
    meds = np.median(draws, axis=1)
    lo, hi = np.quantile(meds, [(1 - level) / 2, (1 + level) / 2])
    return float(np.median(allx)), float(lo), float(hi)


@dataclass(frozen=True)
class Decision:
    verdict: str
    median: float
    low: float
    high: float
    test: SignTest
    band: float
    n_seeds: int  # usable (task, seed) effects
    left_out: int  # (task, seed) pairs without a usable effect (failed preconditions, undefined measure)
    per_task: dict = field(default_factory=dict)  # task -> list of effects, as given


def decide(effects: dict[str, list[float]], band: float, alpha: float = 0.05, level: float = 0.95,
           n_boot: int = 10000, seed: int = 0) -> Decision:
    """The verdict for one measure over its tasks and seeds. ``effects``: task -> one oriented effect per seed
    (NaN where the seed's preconditions failed or the measure is undefined: left out and counted)."""
    usable = {t: [e for e in v if math.isfinite(e)] for t, v in effects.items()}
    n = sum(len(v) for v in usable.values())
    left_out = sum(len(v) for v in effects.values()) - n
    test = sign_test([e for v in usable.values() for e in v], band)
    med, lo, hi = bootstrap_median(usable, n_boot, level, seed)
    if n == 0:
        verdict = NA
    elif test.p_greater <= alpha and lo > band:
        verdict = HOLDS
    elif test.p_less <= alpha and hi < -band:
        verdict = DOES_NOT_HOLD
    else:
        verdict = UNDECIDED
    return Decision(verdict, med, lo, hi, test, band, n, left_out, {t: list(v) for t, v in effects.items()})


def holm(pvalues: dict[str, float]) -> dict[str, float]:
    """Holm's step-down adjusted p-values (monotone, capped at 1); NaN p-values stay NaN and do not count."""
    finite = sorted((p, k) for k, p in pvalues.items() if math.isfinite(p))
    m, out, running = len(finite), {k: float("nan") for k in pvalues}, 0.0
    for i, (p, k) in enumerate(finite):
        running = max(running, min(1.0, (m - i) * p))
        out[k] = running
    return out
