"""The claims page of the HTML report: the claims table, Table 1 beside the paper's, and where the
numbers came from (code, environment, data and model identities). Self-contained HTML, no scripts."""

from __future__ import annotations

import base64
import html
import json

from .controls import split_measure
from .evidence import flat_rows, interval, signed
from .unitsreport import model_html, norms_html, units_html

STYLE = ("body{font-family:sans-serif;max-width:70em;margin:1em auto}table{border-collapse:collapse;margin:1em 0}"
         "td,th{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;font-size:90%}"
         ".yes{background:#d9f2d9}.no{background:#f8d7d7}.na{background:#eee}code{font-size:85%}")


def _table(header: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(f"<tr class='{(classes or [''] * len(rows))[k]}'>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>"
                   for k, r in enumerate(rows))
    return f"<table><tr>{head}</tr>{body}</table>"


def _num(key: str, v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:+.2f}" if "delta" in key else f"{v:.2f}"
    return html.escape(str(v))


def preconditions_html(checks: list[dict]) -> str:
    """Per task: P1-P5 for each init ('ok' or what failed and the config key that would fix it)."""
    from .preconditions import table

    e = html.escape
    parts = ["<h2>Preconditions</h2><p>Is the experiment powered to decide the claims? A claim row that needs a failed "
             "precondition is n/a and names it. P1: train loss at θ1 ≤ <code>claims.learned_fraction</code> × chance; "
             "P2a: θ1 within <code>claims.optimum_tol</code> of its 1D curve's minimum (a minimum along δ1); P2b: "
             "f(θ1) within <code>claims.optimum_loss_tol</code> of that minimum (on the loss floor) -- a C1 row needs "
             "either, and where only P2b holds θ1 is not a minimum along δ1: its width and area say how far δ1 "
             "extrapolates on the floor; P3: C1's region is closed (the 1D "
             "interval inside the curve, the 2D region inside the grid or closing within <code>claims.basin_points</code> "
             "nodes past its edge); P4: every top Lanczos eigenvalue's residual ≤ <code>flatness.lanczos.rtol</code> × "
             "λ<sub>max</sub> (without the flatness record: the power iteration met <code>claims.hessian.tol</code>); "
             "P5 (gates nothing): Lanczos' smallest Hessian eigenvalue is not negative beyond its residual, i.e. θ1 is a "
             "minimum in the encoder's space, not a saddle.</p>"]
    for t in dict.fromkeys(c["task"] for c in checks):
        inits = list(dict.fromkeys(c["init"] for c in checks if c["task"] == t))
        rows = table(checks, t)
        classes = ["no" if any(x.startswith("FAILS") for x in r[2:]) else "yes" if all(x == "ok" for x in r[2:])
                   else "na" for r in rows]
        parts.append(f"<h3>{e(t)}</h3>" + _table(["", "precondition"] + inits, [[e(x) for x in r] for r in rows], classes))
    return "".join(parts)


def claims_html(doc: dict, forest_png: dict[str, bytes] | None = None) -> str:
    """The claims page from claims.json's content: the headline per claim, its forest plot (``forest_png``: claim
    -> PNG bytes, embedded), every decision per task and pooled, the preconditions of each seed, Table 1, the grids'
    precision and the provenance."""
    e = html.escape
    table1, precision, provenance = doc.get("table1_vs_paper", []), doc.get("precision", []), doc.get("provenance", {})
    seeds = doc.get("seeds", [])
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>bertscape claims</title><style>{STYLE}</style>"
             f"</head><body><h1>The paper's claims, decided over {len(seeds)} seed(s): {e(', '.join(map(str, seeds)))}</h1>"
             + model_html(doc) +
             "<p>Each measure's effect is oriented so that &gt; 0 supports the paper. <b>holds</b>: the exact sign "
             "test (ties inside the tie band dropped) rejects in the paper's direction at <code>claims.alpha</code> and "
             "the bootstrap interval of the median effect (seeds resampled within task) lies above the band; <b>does "
             "not hold</b>: the same the other way; <b>undecided</b>: otherwise; <b>n/a</b>: no seed has a usable "
             "effect (failed preconditions are left out and counted). A claim's headline holds when one of its "
             "measures holds after Holm's correction across its measures and none contradicts it.</p>"]
    verdict_class = lambda v: {"holds": "yes", "does not hold": "no"}.get(v, "na")
    heads = doc.get("headlines", [])
    parts.append(_table(["claim", "statement", "headline", "supporting (Holm)", "contradicting (Holm)"],
                        [[h["claim"], e(h["statement"]), e(h["verdict"]), e(", ".join(h["supporting"])),
                          e(", ".join(h["contradicting"]))] for h in heads], [verdict_class(h["verdict"]) for h in heads]))
    for h in heads:
        png = (forest_png or {}).get(h["claim"])
        if png:
            parts.append(f"<h3>{e(h['claim'])}</h3><img alt='forest plot {e(h['claim'])}' style='max-width:100%' "
                         f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
    rows = doc.get("decisions", [])
    parts.append("<h2>Every measure, per task and pooled</h2><p>Coordinates in units of ||δ1||. Effects per seed as "
                 "<code>seed: effect</code>; the values behind them are in claims.tsv / claims.json.</p>")
    if any(split_measure(r["measure"])[1] for r in rows):
        parts.append("<p>Control runs (config <code>controls</code>): a row <code>measure@scratch_matched</code> is the "
                     "measure's contrast finetune vs scratch trained at the fine-tuning learning rate and epochs, "
                     "<code>measure@finetune_matched</code> fine-tuning at scratch's vs scratch; each stands right "
                     "after its measure, so a contrast that holds only with the schedules unmatched shows there, and "
                     "never counts in a headline.</p>")
    fl = flat_rows(rows)
    parts.append(_table(["claim", "measure", "task", "verdict", "median effect", "interval", "band", "+/−/tie",
                         "p (paper's direction)", "used (n/a)", "effects", "why n/a", "criterion"],
                        [[r["claim"], e(r["measure"]), e(r["task"]), e(r["verdict"]), signed(r["median_effect"]),
                          interval(r), f"{r['band']:g}", f"{r['positive']}/{r['negative']}/{r['ties']}",
                          f"{r['p_greater']:.3g}", f"{r['n_used']} ({r['n_left_out']})", f"<code>{e(f['effects'])}</code>",
                          e(f["left_out"]), e(r["criterion"])] for r, f in zip(rows, fl)],
                        [verdict_class(r["verdict"]) for r in rows]))
    basins = doc.get("cross_seed_basins", [])
    parts.append("<h2>Cross-seed basins (C1)</h2><p>Per task, init and pair of consecutive seeds: the barrier of the "
                 "training loss on the straight line between the two seeds' θ1 (max − mean of the ends); the pair "
                 "shares a basin when it is ≤ claims.tau_loss. Only disjoint pairs are tested (pairs sharing a seed "
                 "are not independent).</p>")
    parts.append(_table(["task", "init", "seeds", "barrier", "tau_loss", "shares a basin", "tested"],
                        [[e(r["task"]), e(r["init"]), e(r["pair"]), signed(r["barrier"]), f"{r['tau_loss']:g}",
                          {True: "yes", False: "no"}.get(r["shares_basin"], "n/a"), "yes" if r["tested"] else "no"]
                         for r in basins]) if basins else "<p>n/a: needs &gt;= 2 seeds (config key seeds).</p>")
    parts.append(units_html(doc) + norms_html(doc.get("norms", []), doc.get("display_seed")))
    checks = doc.get("preconditions", [])
    for s in dict.fromkeys(c.get("seed") for c in checks):
        parts.append(f"<h2>Seed {e(str(s))}</h2>" + preconditions_html([c for c in checks if c.get("seed") == s]))
    if table1:
        parts.append("<h2>Table 1: dev accuracy after layer rollback, ours beside the paper's (BERT-large)</h2>"
                     "<p>Accuracy for classification tasks (as in the paper); a regression task shows its own "
                     "metric (column <code>metric</code>).</p>")
        cols = list(dict.fromkeys(k for r in table1 for k in r))
        parts.append(_table(cols, [[_num(k, r.get(k)) for k in cols] for r in table1]))
        parts.append("<p>The paper prints MNLI's high-layer change as −53.88; its own accuracies give −53.69.</p>")
    if precision:
        parts.append("<h2>Precision: each grid's deviation from fp32</h2><p>Grids evaluated in reduced precision "
                     "re-evaluate their anchors and a seeded handful of nodes in fp32; a grid over its budget "
                     "(relative train-loss deviation) is never written.</p>")
        cols = ["seed", "grid", "precision", "checked_nodes", "max_rel_train_loss", "max_rel_dev_loss", "max_abs_dev_error",
                "budget", "within_budget"]
        cell = lambda v: "" if v is None else (f"{v:.2e}" if isinstance(v, float) else e(str(v)))
        parts.append(_table(cols, [[cell(r.get(c)) for c in cols] for r in precision],
                            [{True: "yes", False: "no"}.get(r["within_budget"], "na") for r in precision]))
    parts.append("<h2>Provenance</h2>")
    for key in ("code", "environment"):
        rows = [[e(k), e(str(v))] for k, v in provenance.get(key, {}).items() if k != "identity"]
        parts.append(f"<h3>{key}</h3>" + _table(["key", "value"], rows))
    if "identity" in provenance.get("code", {}):  # what decides a rerun: normalised-source sha256 per file
        parts.append(f"<pre>{e(json.dumps(provenance['code']['identity'], indent=1, sort_keys=True))}</pre>")
    parts.append("<h3>sources (data and model identities along the surfaces' lineage)</h3>")
    for k, v in provenance.get("sources", {}).items():
        parts.append(f"<p><b>{e(k)}</b></p><pre>{e(json.dumps(v, indent=1, sort_keys=True))}</pre>")
    parts.append(f"<p>made by rule <code>{e(provenance.get('rule', ''))}</code> on {e(str(provenance.get('host')))} "
                 f"at {e(str(provenance.get('finished')))}; <code>bertscape audit PATH</code> prints any artifact's lineage.</p>")
    return "".join(parts) + "</body></html>\n"
