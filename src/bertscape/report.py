"""The claims page of the HTML report: the claims table, Table 1 beside the paper's, and where the
numbers came from (code, environment, data and model identities). Self-contained HTML, no scripts."""

from __future__ import annotations

import html
import json

from .claims import TITLES
from .verdicts import fmt, holds_word, tally

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
    """Per task: P1-P4 for each init ('ok' or what failed and the config key that would fix it)."""
    from .preconditions import table

    e = html.escape
    parts = ["<h2>Preconditions</h2><p>Is the experiment powered to decide the claims? A claim row that needs a failed "
             "precondition is n/a and names it. P1: train loss at θ1 ≤ <code>claims.learned_fraction</code> × chance; "
             "P2: θ1 within <code>claims.optimum_tol</code> of its 1D curve's minimum; P3: C1's region is closed (the 1D "
             "interval inside the curve, the 2D region inside the grid or closing within <code>claims.basin_points</code> "
             "nodes past its edge); P4: the power iteration met <code>claims.hessian.tol</code>.</p>"]
    for t in dict.fromkeys(c["task"] for c in checks):
        inits = list(dict.fromkeys(c["init"] for c in checks if c["task"] == t))
        rows = table(checks, t)
        classes = ["no" if any(x.startswith("FAILS") for x in r[2:]) else "yes" if all(x == "ok" for x in r[2:])
                   else "na" for r in rows]
        parts.append(f"<h3>{e(t)}</h3>" + _table(["", "precondition"] + inits, [[e(x) for x in r] for r in rows], classes))
    return "".join(parts)


def claims_html(rows: list[dict], table1: list[dict], provenance: dict, checks: list[dict] | None = None,
                precision: list[dict] | None = None) -> str:
    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>bertscape claims</title><style>{STYLE}</style>"
             "</head><body><h1>The paper's claims, measured</h1>"]
    t = tally(rows)
    parts.append(_table(["claim", "statement", "holds", "does not hold", "undefined"],
                        [[c, e(TITLES.get(c, "")), str(n["yes"]), str(n["no"]), str(n["n/a"])] for c, n in sorted(t.items())]))
    if checks:
        parts.append(preconditions_html(checks))
    parts.append("<h2>Every measure</h2><p>Coordinates in units of ||δ1|| (α = 1 is the end point). "
                 "<i>censored</i>: the region reaches the grid's edge, so its true size is larger than measured.</p>")
    parts.append(_table(["claim", "measure", "task", "holds", "criterion", "values", "why n/a"],
                        [[r["claim"], e(r["measure"]), e(r["task"]), holds_word(r["holds"]), e(r["criterion"]),
                          f"<code>{e(fmt(r['values']))}</code>", e(r.get("reason", ""))] for r in rows],
                        [{"yes": "yes", "no": "no"}.get(holds_word(r["holds"]), "na") for r in rows]))
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
        cols = ["grid", "precision", "checked_nodes", "max_rel_train_loss", "max_rel_dev_loss", "max_abs_dev_error",
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
