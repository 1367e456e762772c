"""The claims page's sections on units and the model: what theta0 is, where a C1 verdict changes with the unit of
length (:mod:`bertscape.c1units`), and the per-layer norm table of both inits (:mod:`bertscape.layernorms`)."""

from __future__ import annotations

import html

from .c1units import UNIT_TEXT

NORM_COLUMNS = ("norm_theta0", "norm_theta1", "norm_delta1", "rel_delta1")


def model_html(doc: dict) -> str:
    m = doc.get("model")
    return f"<p><b>The model.</b> {html.escape(m['statement'])}</p>" if m else ""


def units_html(doc: dict) -> str:
    """C1 in three units: what each means, and every (measure, task) whose verdict the unit changes ("" for a
    claims.json without the comparison)."""
    e = html.escape
    diff = doc.get("unit_disagreements")
    if diff is None:
        return ""
    units = "; ".join(f"<b>{u}</b>: {e(t)}" for u, t in UNIT_TEXT.items())
    head = ("<h2>C1 in three units</h2><p>Every C1 size is decided in three units (" + units + "). Base names are "
            "the sizes as measured (areas and widths in ||δ1|| units, the Hessian's eigenvalue raw); the suffixes "
            "<code>_raw</code>, <code>_rel</code>, <code>_delta1</code> name the others. Scratch runs travel farther, "
            "so in ||δ1|| units the same basin reads smaller for them.</p>")
    if not diff:
        return head + "<p>No C1 verdict differs between the units.</p>"
    rows = "".join(f"<tr><td>{e(d['measure'])}</td><td>{e(d['task'])}</td><td>"
                   + "; ".join(f"{e(u)}: {e(v)}" for u, v in d["verdicts"].items()) + "</td></tr>" for d in diff)
    return (head + "<p><b>These C1 verdicts differ between units</b> (the unit, not the models, decides them):</p>"
            f"<table><tr><th>measure</th><th>task</th><th>verdict per unit</th></tr>{rows}</table>")


def norms_html(rows: list[dict], seed) -> str:
    """The display seed's norm table: per task, each part / layer / group / the encoder, both inits side by side."""
    e = html.escape
    rows = [r for r in rows if r.get("seed") == seed]
    if not rows:
        return ""
    inits = list(dict.fromkeys(r["init"] for r in rows))
    parts = [f"<h2>Norms of the encoder, seed {e(str(seed))}</h2><p>||θ0ᴳ||, ||θ1ᴳ||, ||δ1ᴳ|| and ||δ1ᴳ|| / ||θ1ᴳ|| per "
             "part, layer, layer group and the whole encoder (float64 sums of squares; every seed's table is in "
             "claims.json under <code>norms</code>). The encoder row's ratio is the <code>_rel</code> unit of C1.</p>"]
    head = "".join(f"<th>{e(i)} {c}</th>" for i in inits for c in ("θ0", "θ1", "δ1", "δ1/θ1"))
    for t in dict.fromkeys(r["task"] for r in rows):
        cell = {(r["unit"], r["name"], r["init"]): r for r in rows if r["task"] == t}
        keys = list(dict.fromkeys((u, n) for u, n, _ in cell))
        body = "".join(f"<tr><td>{e(u)}</td><td>{e(n)}</td>" + "".join(
            f"<td>{cell[u, n, i][c]:.4g}</td>" if (u, n, i) in cell else "<td></td>" for i in inits for c in NORM_COLUMNS)
            + "</tr>" for u, n in keys)
        parts.append(f"<h3>{e(t)}</h3><table><tr><th>unit</th><th>name</th>{head}</tr>{body}</table>")
    return "".join(parts)
