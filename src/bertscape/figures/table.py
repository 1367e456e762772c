"""Table 1: dev scores of the fine-tuned model and with each layer group rolled back.
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .scales import GROUP_LABEL, GROUP_ORDER, layers_text, ordered
from .style import font_size, resolve_style


_ROW_KEYS = ("task", "finetuned", "layers", "metric", "glue")



def _num(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None



def _delta_text(v: float, base: float) -> str:
    d = round(v - base, 2) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{d:+.2f}"



def table1(rows: Sequence[Mapping[str, Any]], style: Mapping | None = None) -> tuple[str, Figure]:
    """Table 1: dev accuracy (%) of the fine-tuned model and with each layer group rolled back.

    A row's optional ``metric`` names the score when it is not accuracy (e.g. "Pearson r" for a
    regression task, "F1" for MRPC): the Dataset cell then says so; ``glue`` (optional) is GLUE's
    metrics of the fine-tuned model, printed in an extra column of the Markdown.
    Returns (Markdown, Figure). Cells read "86.73 (+0.19)": the score and the difference to the
    fine-tuned score, computed from the given values and rounded to two decimals; missing or
    non-finite values print as "—". Column headers give the layer ranges from ``row["layers"]``
    when all rows agree on them, otherwise the group names.
    """
    st = resolve_style(style)
    if not rows:
        raise ValueError("table1: no rows given")
    names = ordered([k for r in rows for k in r if k not in _ROW_KEYS], GROUP_ORDER)
    headers = []
    for gname in names:
        ranges = {json.dumps((r.get("layers") or {}).get(gname)) for r in rows}
        rng = json.loads(ranges.pop()) if len(ranges) == 1 else None
        headers.append(f"Rollback {layers_text(rng)}" if layers_text(rng)
                       else f"Rollback {GROUP_LABEL.get(gname, gname)}")
    cols = ["Dataset", "BERT (fine-tuned)"] + headers
    named = lambda r: r.get("metric") not in (None, "", "accuracy", "acc")  # noqa: E731
    md_rows, fig_rows = [], []
    for r in rows:
        base = _num(r.get("finetuned"))
        task = str(r.get("task", "?")) + (f" ({r['metric']})" if named(r) else "")
        md = [task, "—" if base is None else f"{base:.2f}"]
        fg = list(md)
        for gname in names:
            v = _num(r.get(gname))
            if v is None:
                md.append("—")
                fg.append("—")
            elif base is None:
                md.append(f"{v:.2f}")
                fg.append(f"{v:.2f}")
            else:
                md.append(f"{v:.2f} ({_delta_text(v, base)})")
                fg.append(f"{v:.2f}\n({_delta_text(v, base)})")
        md_rows.append(md)
        fig_rows.append(fg)
    glue = any(r.get("glue") for r in rows)
    md_cols = cols + (["GLUE metrics (fine-tuned)"] if glue else [])
    if glue:
        md_rows = [m + [str(r.get("glue") or "—")] for m, r in zip(md_rows, rows)]
    lines = ["| " + " | ".join(md_cols) + " |", "|" + "|".join(["---"] + ["---:"] * (len(md_cols) - 1)) + "|"]
    lines += ["| " + " | ".join(m) + " |" for m in md_rows]
    what = ("Scores (x 100) on the development sets: accuracy (%), or the metric named after the dataset"
            if any(named(r) for r in rows) else "Accuracy (%) on the development sets")
    caption = (f"Table 1: {what}. BERT: the fine-tuned model; Rollback: the "
               "fine-tuned model with one group of layers reset to pre-trained BERT, difference to BERT in "
               "parentheses.")
    markdown = "\n".join(lines) + "\n\n" + caption + "\n"

    fs = font_size(st, "label")
    fig = Figure(figsize=(1.0 + 1.25 * len(cols), 0.9 + 0.5 * (len(rows) + 1)), dpi=st["dpi"])
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.80))
    ax.set_axis_off()
    tab = ax.table(cellText=fig_rows, colLabels=[c.replace(" (", "\n(") for c in cols], loc="center",
                   cellLoc="center")
    tab.auto_set_font_size(False)
    tab.set_fontsize(fs)
    n = len(rows) + 1
    for (i, j), cell in tab.get_celld().items():
        cell.set_height(1.0 / n)
        cell.set_linewidth(0.5)
        if i == 0:
            cell.set_text_props(fontweight="bold")
            cell.set_facecolor("0.9")
        elif j == 0:
            cell.set_text_props(fontweight="bold")
    fig.text(0.5, 0.97, f"{what.split(':')[0]}; (difference to fine-tuned BERT)",
             ha="center", va="top", fontsize=font_size(st, "title"))
    return markdown, fig
