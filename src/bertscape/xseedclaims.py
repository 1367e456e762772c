"""The cross-seed claim rows, decided in the aggregate ``claims`` rule (they need several seeds' outputs):

* **C1 cross_seed_barrier** (Juneja et al. 2023): per task and pair of seeds, the barrier of the straight path
  between the two seeds' theta1 (:mod:`bertscape.crossseed`), fine-tuned and scratch. The paper's reading: fine-tuned
  theta1s of different seeds share a basin (barrier <= claims.tau_loss) where scratch ones do not. Effect:
  barrier_scratch - barrier_finetune (nats; > 0 supports the paper). Tie band ``claims.tie_bands.seed_barrier``.
* **C6 cos_vs_seed_null**: per unordered task pair {A, B}, init and pair of seeds (a, b), the cross-task
  |cos(delta1_A, delta1_B)| (each seed's, from its directions; mean over a and b) against the null that shared
  theta0 and training produce, the same task's delta1 under the two seeds: min(cos(delta1_A^a, delta1_A^b),
  cos(delta1_B^a, delta1_B^b)). Effect: null - cross (> 0: two tasks' directions are closer to orthogonal than one
  task's directions under two seeds). Tie band ``claims.tie_bands.cos_seed_null``. Fine-tuned runs only: their
  theta0 (the pre-trained encoder) is the same for every seed, a scratch theta0 is drawn per seed.

Only the disjoint seed pairs enter the sign test and the bootstrap (pairs sharing a seed are not independent,
:func:`bertscape.crossseed.disjoint`); the others are listed with the reason. A pair whose seeds fail a needed
precondition (P1, P2 of either main init of the task; a control run's never) is left out and counted. With one
seed every row is n/a: :data:`bertscape.crossseed.NEEDS_TWO`.
"""

from __future__ import annotations

import math

from . import preconditions as P
from .config import INITS
from .crossseed import NEEDS_TWO, disjoint, pair_name, seed_pairs
from .evidence import POOLED, decision_row
from .stats import decide

# the null needs theta0 shared by the two seeds: the pre-trained encoder is; a scratch theta0 is drawn per seed, so
# two seeds' scratch delta1 share only the training, not theta0 (no null for scratch)
NULL_INITS = ("finetune",)
# of both inits of the task, in both seeds: each theta1 trained and at an optimum of its curve (P2a or P2b: a failed
# clause counts only where the other failed too, as for C1's rows)
NEEDS = ("P1", "P2a", "P2b")
BARRIER = ("C1", "cross_seed_barrier", "seed_barrier")  # (claim, measure, tie-band key)
C6_NULL = ("C6", "cos_vs_seed_null", "cos_seed_null")


def read_paths(paths: list[str], keys: list) -> dict[tuple, dict]:
    """(task, init, seed_a, seed_b) -> {barrier, ends, cos} of the seed_barrier rule's HDF5 files (``keys`` aligned
    with ``paths``)."""
    from .h5io import read_grid

    if len(paths) != len(keys):
        raise ValueError(f"claims: {len(paths)} seed-path inputs but {len(keys)} keys")
    out = {}
    for k, p in zip(keys, paths):
        g = read_grid(p)
        t, i, a, b = k
        out[str(t), str(i), int(a), int(b)] = {
            "barrier": g.attrs["barrier"], "cos": g.attrs["cos_delta1"],
            "ends": [g.anchors["seed_a"]["train_loss"], g.anchors["seed_b"]["train_loss"]]}
    return out


def _num(x) -> float:
    return float(x) if x is not None and math.isfinite(float(x)) else float("nan")


def _failures(docs: dict[int, dict], seeds: tuple[int, ...], tasks: tuple[str, ...]) -> str:
    # the main runs' (config.INITS) only: a control run (bertscape.controls) failing P1 -- scratch at the
    # fine-tuning schedule does not fit the embedded tasks -- says nothing about these two runs' basins
    checks = {s: docs.get(s, {}).get("preconditions", []) for s in seeds}
    fails = [f"seed {s}: {P.reason(c)}" for s in seeds for c in P.failed(checks[s])
             if c["precondition"] in NEEDS and c["task"] in tasks and c["init"] in INITS
             and not P.alternative_held(c, checks[s])]
    return "; ".join(fails)


def _cell(pair: tuple[int, int], is_tested: bool, scope: str, effect: float, values: dict, why: str,
          first_tested: dict[int, str]) -> dict:
    """One pair's entry (``seed`` is the pair's name; effect NaN where it is not used, with the reason); an
    untested pair names the tested pair it shares a seed with."""
    if not is_tested:
        shared = next((first_tested[s] for s in pair if s in first_tested), "")
        why = f"shares a seed with pair {shared} (not independent): reported, not tested"
    elif not math.isfinite(effect) and not why:
        why = "undefined: a NaN in its values"
    return {"seed": pair_name(*pair), "task": scope, "effect": math.nan if why else effect, "values": values,
            "reason": why, "tested": is_tested}


def _decide(claim: str, measure: str, band_key: str, cells: dict[str, list[dict]], criterion: str, cl: dict,
            seeds: list[int]) -> list[dict]:
    band = float(cl["tie_bands"][band_key])
    boot = cl.get("bootstrap", {})
    kw = {"alpha": cl.get("alpha", 0.05), "level": boot.get("level", 0.95), "n_boot": boot.get("draws", 10000),
          "seed": boot.get("seed", 0)}
    if len(seeds) < 2:
        na = decide({}, band, **kw)
        return [decision_row(claim, measure, scope, t, na, [("-", {"seed": "-", "task": t, "effect": math.nan,
                                                                    "values": {}, "reason": NEEDS_TWO})], criterion)
                for scope, t in [("task", x) for x in cells] + [(POOLED, "all")]]
    if not cells:
        return []
    used = lambda v: [c["effect"] for c in v if c["tested"]]
    out = [decision_row(claim, measure, "task", t, decide({t: used(v)}, band, **kw), [(c["seed"], c) for c in v],
                        criterion) for t, v in cells.items()]
    pooled = decide({t: used(v) for t, v in cells.items()}, band, **kw)
    out.append(decision_row(claim, measure, POOLED, "all", pooled, [(c["seed"], c) for v in cells.values() for c in v],
                            criterion))
    return out


def _first_tested(pairs: list[tuple[int, int]]) -> dict[int, str]:
    out: dict[int, str] = {}
    for p, t in zip(pairs, disjoint(pairs)):
        for s in p:
            if t:
                out.setdefault(s, pair_name(*p))
    return out


def barrier_rows(paths: dict[tuple, dict], docs: dict[int, dict], tasks: list[str], seeds: list[int],
                 cl: dict) -> tuple[list[dict], list[dict]]:
    """(decision rows of C1 cross_seed_barrier, the per task/init/pair basin table). ``paths``: (task, init, a, b)
    -> {barrier, ends: [f(0), f(1)], max, cos} (the seed_barrier rule's HDF5 attrs); ``docs``: seed -> rows.json."""
    if not tasks:
        return [], []
    tau = float(cl["tau_loss"])
    pairs, table = seed_pairs(seeds), []
    first = _first_tested(pairs)
    cells: dict[str, list[dict]] = {t: [] for t in tasks}
    for t in tasks:
        for k, (a, b) in enumerate(pairs):
            v = {"pair": pair_name(a, b)}
            for i in INITS:
                r = paths.get((t, i, a, b), {})
                bar = _num(r.get("barrier"))
                v[i] = {"barrier": bar, "shares_basin": (bar <= tau) if math.isfinite(bar) else None,
                        "ends": r.get("ends")}
                table.append({"task": t, "init": i, "pair": pair_name(a, b), "barrier": bar, "tau_loss": tau,
                              "shares_basin": v[i]["shares_basin"], "tested": disjoint(pairs)[k]})
            effect = v["scratch"]["barrier"] - v["finetune"]["barrier"]
            cells[t].append(_cell((a, b), disjoint(pairs)[k], t, effect, v, _failures(docs, (a, b), (t,)), first))
    crit = (f"barrier of the straight path between two seeds' theta1 (max - mean of the ends, train loss): "
            f"finetune shares a basin (<= {tau:g}) where scratch does not; effect barrier_sc - barrier_ft")
    return _decide(*BARRIER[:2], BARRIER[2], cells, crit, cl, seeds), table


def _cross_cos(docs: dict[int, dict]) -> dict[tuple[str, str, str, int], float]:
    """(A, B, init, seed) -> cos(delta1_A, delta1_B) of that seed's C6 rows (A < B: one value per unordered pair)."""
    out = {}
    for s, d in docs.items():
        for r in d.get("claims", []):
            if r["claim"] == "C6" and r["measure"] == "cos_delta1_delta2":
                a, b = sorted((str(r["task"]), str(r["values"]["other_task"])))
                out[a, b, str(r["values"]["init"]), int(s)] = _num(r["values"]["cos"])
    return out


def c6_null_rows(paths: dict[tuple, dict], docs: dict[int, dict], seeds: list[int], cl: dict) -> list[dict]:
    """Decision rows of C6 cos_vs_seed_null, one scope per unordered task pair and init."""
    cross, pairs = _cross_cos(docs), seed_pairs(seeds)
    first = _first_tested(pairs)
    scopes = sorted({(a, b, i) for a, b, i, _ in cross if i in NULL_INITS})
    cells: dict[str, list[dict]] = {}
    for A, B, i in scopes:
        scope = f"{A}~{B} ({i})"
        cells[scope] = []
        for k, (a, b) in enumerate(pairs):
            xs = [abs(cross.get((A, B, i, s), math.nan)) for s in (a, b)]
            null = {T: _num(paths.get((T, i, a, b), {}).get("cos")) for T in (A, B)}
            c = sum(xs) / 2
            effect = min(null.values()) - c
            v = {"pair": pair_name(a, b), "init": i, "cross_abs_cos": dict(zip(map(str, (a, b)), xs)),
                 "same_task_cos": null}
            missing = [f"{T}/{i} seeds {pair_name(a, b)}" for T in (A, B) if (T, i, a, b) not in paths]
            why = f"no seed_barrier output for {', '.join(missing)}" if missing else ""
            cells[scope].append(_cell((a, b), disjoint(pairs)[k], scope, effect, v,
                                      why or _failures(docs, (a, b), (A, B)), first))
    crit = ("cross-task |cos(delta1_A, delta1_B)| (mean over the pair's seeds) below the same task's "
            "cos(delta1^a, delta1^b) across the two seeds (the smaller of A's and B's); effect null - cross")
    return _decide(*C6_NULL[:2], C6_NULL[2], cells, crit, cl, seeds)
