"""Claims over seeds: each seed's gated claim rows (``bertscape.claims.evaluate``, one ``rows.json`` per seed) turned
into paired effects, decided per (claim, measure, task) and pooled over tasks with :func:`bertscape.stats.decide`,
and one headline per claim across its measures with Holm's correction.

* an effect is NaN where the seed's row is n/a (a failed precondition, an undefined measure): left out of the test
  and the interval, counted, its reason kept;
* one measurement counts once: C6's RTE -> MRPC and MRPC -> RTE are one cosine (the registry's ``scope``);
* the headline of a claim: **holds** when some measure holds after Holm's correction of the pooled p-values in the
  paper's direction and none does not hold after Holm's correction in the opposite direction; **does not hold**
  the other way round; **n/a** when every measure is; **undecided** otherwise (including measures that disagree).
  Nothing is added up across rows.
"""

from __future__ import annotations

import math

from .claims import CLAIMS, TITLES, effect, lookup
from .controls import CONTROLS, measure_name, split_measure
from .stats import DOES_NOT_HOLD, HOLDS, NA, UNDECIDED, Decision, decide, holm
from .verdicts import fmt

POOLED = "pooled"
UNDEFINED_EFFECT = "effect undefined: the row's values fix neither its sign nor its size (bertscape.effects)"
COLUMNS = ["claim", "measure", "scope", "task", "verdict", "median_effect", "low", "high", "band", "positive",
           "negative", "ties", "p_greater", "p_less", "p_greater_holm", "p_less_holm", "n_used", "n_left_out",
           "effects", "values", "left_out", "criterion"]  # claims.tsv


def seed_effects(doc: dict, cl: dict) -> list[dict]:
    """One seed's rows as effects ``{claim, measure, task, effect, reason, values, criterion}``, ``task`` being the
    measure's scope (the task; C6: the task pair): a scope met twice in one seed counts once."""
    out, seen = [], set()
    for r in doc["claims"]:
        m = lookup(r["claim"], r["measure"])
        key = (m.claim, r["measure"], m.scope(r))  # r's measure: a control's rows are its own (measure@control)
        if key in seen:
            continue
        seen.add(key)
        x = effect(r, cl)
        reason = r.get("reason", "") if not math.isfinite(x) else ""
        out.append({"claim": m.claim, "measure": r["measure"], "task": key[2], "effect": x,
                    "reason": reason or ("" if math.isfinite(x) else UNDEFINED_EFFECT), "values": r["values"],
                    "criterion": r["criterion"]})
    return out


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def decision_row(claim: str, measure: str, scope: str, task: str, d: Decision, cells: list[tuple[int, dict]],
            criterion: str) -> dict:
    """One row of claims.tsv / claims.json: the decision and every seed's value and effect."""
    return {"claim": claim, "measure": measure, "scope": scope, "task": task, "verdict": d.verdict,
            "median_effect": _num(d.median), "low": _num(d.low), "high": _num(d.high), "band": d.band,
            "positive": d.test.positive, "negative": d.test.negative, "ties": d.test.ties,
            "p_greater": d.test.p_greater, "p_less": d.test.p_less, "n_used": d.n_seeds, "n_left_out": d.left_out,
            "per_seed": [{"seed": s, "task": c["task"], "effect": _num(c["effect"]), "values": c["values"],
                          "reason": c["reason"]} for s, c in cells],
            "criterion": criterion}


def decide_all(docs: dict[int, dict], cl: dict) -> list[dict]:
    """Every (claim, measure) the seeds' rows hold, in the registry's order: one row per task (scope) and one
    pooled over them. ``docs``: seed -> that seed's rows.json; ``cl``: the config's ``claims`` section."""
    cells: dict[tuple[str, str], dict[str, list[tuple[int, dict]]]] = {}
    for s, doc in docs.items():
        for c in seed_effects(doc, cl):
            cells.setdefault((c["claim"], c["measure"]), {}).setdefault(c["task"], []).append((s, c))
    boot = cl.get("bootstrap", {})
    kw = {"alpha": cl.get("alpha", 0.05), "level": boot.get("level", 0.95), "n_boot": boot.get("draws", 10000),
          "seed": boot.get("seed", 0)}
    out = []
    # each measure, then its control runs' rows beside it (bertscape.controls)
    for m, name in [(m, n) for m in CLAIMS for n in (m.measure, *(measure_name(m.measure, c) for c in CONTROLS))]:
        by_task = cells.get((m.claim, name))
        if not by_task:
            continue
        band = float(cl["tie_bands"][m.band])
        crit = next(c["criterion"] for v in by_task.values() for _, c in v)
        for t, v in by_task.items():
            out.append(decision_row(m.claim, name, "task", t, decide({t: [c["effect"] for _, c in v]}, band, **kw),
                                    v, crit))
        pooled = decide({t: [c["effect"] for _, c in v] for t, v in by_task.items()}, band, **kw)
        out.append(decision_row(m.claim, name, POOLED, "all", pooled, [x for v in by_task.values() for x in v],
                                crit))
    return out


def headlines(results: list[dict], alpha: float = 0.05) -> list[dict]:
    """Per claim, across its measures' pooled rows: Holm-adjusted p-values in both directions and the headline."""
    out = []
    for claim in TITLES:  # a control's rows stand beside the claim's measures, never in its headline
        pooled = [r for r in results if r["claim"] == claim and r["scope"] == POOLED
                  and split_measure(r["measure"])[1] is None]
        if not pooled:
            continue
        up = holm({r["measure"]: r["p_greater"] if r["verdict"] != NA else math.nan for r in pooled})
        down = holm({r["measure"]: r["p_less"] if r["verdict"] != NA else math.nan for r in pooled})
        sup = [r["measure"] for r in pooled if r["verdict"] == HOLDS and up[r["measure"]] <= alpha]
        con = [r["measure"] for r in pooled if r["verdict"] == DOES_NOT_HOLD and down[r["measure"]] <= alpha]
        if all(r["verdict"] == NA for r in pooled):
            verdict = NA
        elif sup and not con:
            verdict = HOLDS
        elif con and not sup:
            verdict = DOES_NOT_HOLD
        else:
            verdict = UNDECIDED
        for r in pooled:
            r["p_greater_holm"], r["p_less_holm"] = up[r["measure"]], down[r["measure"]]
        out.append({"claim": claim, "statement": TITLES[claim], "verdict": verdict, "supporting": sup,
                    "contradicting": con, "measures": [r["measure"] for r in pooled]})
    return out


def by_seed(seeds: list[int], docs: list[dict], paths: list[str] | None = None) -> dict[int, dict]:
    """seed -> rows.json from the rule's aligned lists; a length mismatch, a repeated seed or a file whose own
    ``seed`` differs from the one it is listed under is an error naming it."""
    if len(seeds) != len(docs):
        raise ValueError(f"claims: {len(docs)} rows.json inputs but {len(seeds)} seeds")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"claims: repeated seeds {seeds}")
    for k, (s, d) in enumerate(zip(seeds, docs)):
        if "seed" in d and int(d["seed"]) != int(s):
            where = paths[k] if paths else f"input {k}"
            raise ValueError(f"claims: {where} holds seed {d['seed']}, listed as seed {s}")
    return {int(s): d for s, d in zip(seeds, docs)}


def aggregate(docs: dict[int, dict], cl: dict, display_seed: int, cross_seed: list[dict] | None = None) -> dict:
    """claims.json's content (less provenance): ``docs``: seed -> that seed's rows.json (``evaluate``'s dict). The
    decisions and headlines over all seeds; every seed's preconditions, Table 1 and precision rows with a ``seed``
    column; every seed's gated rows under ``per_seed``. ``cross_seed``: decision rows that need several seeds
    (:mod:`bertscape.xseedclaims`), decided beside the others and counted in their claim's headline."""
    if display_seed not in docs:
        raise ValueError(f"claims: the display seed {display_seed} is not among the seeds {sorted(docs)}")
    decisions = decide_all(docs, cl) + list(cross_seed or [])
    heads = headlines(decisions, cl.get("alpha", 0.05))
    tag = lambda key: [{"seed": s, **x} for s, d in docs.items() for x in d.get(key, [])]
    return {"seeds": list(docs), "display_seed": display_seed, "headlines": heads, "decisions": decisions,
            "preconditions": tag("preconditions"), "table1_vs_paper": tag("table1_vs_paper"),
            "precision": tag("precision"), "norms": tag("norms"), "per_seed": {str(s): d["claims"] for s, d in docs.items()}}


# ---------------------------------------------------------------- what a reader sees

def signed(x) -> str:
    """A number to 3 significant digits with its sign ("" for None or NaN)."""
    return "" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:+.3g}"


def interval(r: dict) -> str:
    return "" if r["low"] is None else f"[{signed(r['low'])}, {signed(r['high'])}]"


def flat_rows(results: list[dict]) -> list[dict]:
    """Rows for claims.tsv: every seed's value and effect in one column each (``seed: ...; seed: ...``)."""
    rows = []
    for r in results:
        each = r["per_seed"]
        lab = (lambda c: f"{c['seed']}") if r["scope"] == "task" else (lambda c: f"{c['task']}/{c['seed']}")
        rows.append({**{k: r[k] for k in COLUMNS if k in r},
                     "effects": "; ".join(f"{lab(c)}: {'n/a' if c['effect'] is None else fmt(c['effect'])}"
                                          for c in each),
                     "values": "; ".join(f"{lab(c)}: {fmt(c['values'])}" for c in each),
                     "left_out": "; ".join(f"{lab(c)}: {c['reason']}" for c in each if c["effect"] is None)})
    return rows


def markdown(doc: dict) -> str:
    """The claims table of summary.md and the README: headline per claim, then verdict, median effect and
    interval of every measure pooled over tasks (``doc``: claims.json)."""
    seeds = doc.get("seeds", [])
    model = [f"**The model.** {doc['model']['statement']}", ""] if doc.get("model") else []
    lines = model + [f"Over {len(seeds)} seed{'s' * (len(seeds) != 1)} ({', '.join(map(str, seeds))}); effect > 0 supports "
             "the paper; p: the sign test in the paper's direction (the opposite one where it does not hold); interval: bootstrap of the median, seeds resampled within task; a headline holds when a "
             "measure holds after Holm's correction and none contradicts it.", "",
             "| claim | measure | verdict | median effect | 95 % interval | tie band | + / − / tie | p | (task, seed) used (n/a) |",
             "|---|---|---|---|---|---|---|---|---|"]
    heads = {h["claim"]: h for h in doc.get("headlines", [])}
    for claim in TITLES:
        pooled = [r for r in doc["decisions"] if r["claim"] == claim and r["scope"] == POOLED]
        if not pooled:
            continue
        h = heads.get(claim, {})
        lines.append(f"| **{claim}** | *{TITLES[claim]}* | **{h.get('verdict', '')}** | | | | | | |")
        for r in pooled:
            p = "" if r["verdict"] == NA else f"{r['p_less' if r['verdict'] == DOES_NOT_HOLD else 'p_greater']:.3g}"
            lines.append(f"| {claim} | {r['measure']} | {r['verdict']} | {signed(r['median_effect'])} | {interval(r)} | "
                         f"{r['band']:g} | {r['positive']} / {r['negative']} / {r['ties']} | {p} | "
                         f"{r['n_used']} ({r['n_left_out']}) |")
    return "\n".join(lines) + "\n"
