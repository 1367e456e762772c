"""C2 at matched points of two learning-rate schedules: where a fine-tune and a scratch run stand after the same
*fraction* of their own schedule, or after the same *cumulative learning rate* (sum of the schedule's lr over the
steps taken), instead of after the same epoch number of schedules of different length and peak lr.

The direction cosine cos(delta^E, delta1) is stored once per epoch (the trajectory rule), so a matched point is
read at the stored epoch nearest it: for a fraction q of an E-epoch run, epoch round(q x E) clamped to 1..E (halves
round up; epoch 0 has no direction); for a cumulative lr c, the epoch whose end's cumulative lr is nearest c (the
earlier on a tie). The epoch actually read and its exact fraction / cumulative lr are recorded beside each cosine,
so a reader sees how far the stored epochs are from the matched point. No interpolation: a cosine between two
epochs is not the mean of theirs.
"""

from __future__ import annotations

import math


def epoch_at_fraction(n_epochs: int, q: float) -> int:
    """The stored epoch (1..n_epochs) nearest the fraction ``q`` of an ``n_epochs``-epoch schedule."""
    if n_epochs < 1:
        raise ValueError("a schedule needs at least one epoch")
    return min(n_epochs, max(1, math.floor(q * n_epochs + 0.5)))


def cumulative_lr(steps: list[dict]) -> dict[int, float]:
    """{epoch: sum of the lr over every step up to that epoch's end} from a train rule's steps.tsv rows (columns
    epoch, lr: the lr each optimiser step used)."""
    out: dict[int, float] = {}
    total = 0.0
    for s in sorted(steps, key=lambda s: float(s["step"])):
        total += float(s["lr"])
        out[int(s["epoch"])] = total
    return out


def epoch_at_cumlr(cum: dict[int, float], c: float) -> int:
    """The epoch whose end's cumulative lr is nearest ``c`` (the earlier epoch on a tie)."""
    return min(sorted(cum), key=lambda e: abs(cum[e] - c))


def cos_of(trajectory: list[dict], epoch: int) -> float:
    """cos(delta^epoch, delta1) from a trajectory's rows; NaN where that epoch is not stored."""
    return next((float(r["cos"]) for r in trajectory if int(r["epoch"]) == epoch), float("nan"))


def matched_fractions(traj: dict[str, list[dict]], fractions: list[float]) -> dict:
    """{"q": [...], init: [{"epoch", "fraction", "cos"}, ...]}: each run's cosine at the stored epoch nearest each
    fraction of its own schedule (``traj``: init -> trajectory rows, epochs 1..E of its run)."""
    out: dict = {"q": list(fractions)}
    for init, rows in traj.items():
        n = max(int(r["epoch"]) for r in rows)
        out[init] = [{"epoch": (e := epoch_at_fraction(n, q)), "fraction": e / n, "cos": cos_of(rows, e)}
                     for q in fractions]
    return out


def matched_cumlr(traj: dict[str, list[dict]], cum: dict[str, dict[int, float]], fractions: list[float]) -> dict:
    """{"cumlr": [...], init: [{"epoch", "cumlr", "cos"}, ...]}: each run's cosine at the stored epoch whose
    cumulative lr is nearest c = q x (the smaller of the two runs' total cumulative lr), for each q in
    ``fractions`` -- so every matched point lies inside both schedules."""
    top = min(max(c.values()) for c in cum.values())
    targets = [q * top for q in fractions]
    out: dict = {"cumlr": targets}
    for init, rows in traj.items():
        picks = [epoch_at_cumlr(cum[init], c) for c in targets]
        out[init] = [{"epoch": e, "cumlr": cum[init][e], "cos": cos_of(rows, e)} for e in picks]
    return out


def weakest_gap(v: dict) -> float:
    """min over the matched points of cos_finetune - cos_scratch (> 0 at every point: fine-tuning is nearer its
    final direction at each); NaN where any cosine is missing."""
    gaps = [a["cos"] - b["cos"] for a, b in zip(v["finetune"], v["scratch"])]
    return min(gaps) if gaps and all(math.isfinite(g) for g in gaps) else float("nan")


def cumlr_to(epoch: int | None, cum: dict[int, float]) -> float | None:
    """The cumulative lr spent until the end of ``epoch`` (the first epoch whose loss met the threshold); None when
    the run never met it."""
    return None if epoch is None else cum[epoch]
