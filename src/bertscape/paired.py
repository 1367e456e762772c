"""Per-example paired comparisons of two models on one dev set: which examples each gets right, and the exact
McNemar test (a two-sided sign test on the discordant examples) of whether one is better than the other.

Per-example correctness travels as a string of ``+`` (right) / ``-`` (wrong), one character per dev example in
the dev set's order (:func:`encode`): small enough for a TSV cell (400 examples: 400 bytes), exact, and never
read back as a number by :func:`bertscape.io.read_tsv` (a string of digits would be). Regression tasks have
no per-example correctness: their strings are empty and their tests undefined."""

from __future__ import annotations

import math
from typing import Sequence

import torch

from .metrics import predictions


def correct(logits: list[torch.Tensor], labels: list[torch.Tensor]) -> list[bool] | None:
    """Per-example correctness (argmax == label) over the batches in order; None for regression targets."""
    if not labels or labels[0].is_floating_point():
        return None
    return [bool(x) for lg, y in zip(logits, labels) for x in (predictions(lg, y).cpu() == y.cpu()).tolist()]


def encode(flags: Sequence[bool] | None) -> str:
    """``"-++-..."``; "" for None (regression)."""
    return "" if flags is None else "".join("+" if f else "-" for f in flags)


def decode(text: str | None) -> list[bool] | None:
    """The inverse of :func:`encode`; None for "" / None / NaN (no per-example record). Other characters: error."""
    if text is None or (isinstance(text, float) and math.isnan(text)) or str(text) in ("", "nan"):
        return None
    text = str(text)
    if set(text) - {"+", "-"}:
        raise ValueError(f"per-example correctness must be a string of +/-, got {text[:20]!r}")
    return [c == "+" for c in text]


def binom_two_sided(k: int, n: int) -> float:
    """Exact two-sided p of k successes in n fair coin flips: min(1, 2 P(X <= min(k, n - k)))."""
    if n == 0:
        return 1.0
    m = min(k, n - k)
    tail = sum(math.comb(n, i) for i in range(m + 1)) / 2.0 ** n
    return min(1.0, 2.0 * tail)


def mcnemar(a: Sequence[bool] | None, b: Sequence[bool] | None) -> dict:
    """Exact McNemar test of model b against model a on the same examples: ``b_better`` = examples b gets right
    and a wrong, ``b_worse`` the reverse, ``p`` the two-sided exact binomial p on the discordant ones (1.0 when
    there are none; None, with the counts, when either record is missing or they differ in length)."""
    if a is None or b is None or len(a) != len(b) or not len(a):
        return {"n": 0 if a is None or b is None else min(len(a), len(b)), "b_better": None, "b_worse": None,
                "p": None}
    better = sum(1 for x, y in zip(a, b) if y and not x)
    worse = sum(1 for x, y in zip(a, b) if x and not y)
    return {"n": len(a), "b_better": better, "b_worse": worse, "p": binom_two_sided(better, better + worse)}
