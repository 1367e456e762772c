"""Rule claims: every seed's gated claim rows (rows.json) decided over seeds -- per (claim, measure, task) and pooled,
a headline per claim with Holm's correction (claims.tsv/.json/.html), a forest plot per claim, each seed's
preconditions (preconditions.tsv) and Table 1 beside the paper's."""
from bertscape import evidence as E
from bertscape import preconditions as P
from bertscape.audit import sources
from bertscape.claims import TITLES, evaluate
from bertscape.figures.forest import forest
from bertscape.figures.save import save_figure
from bertscape.imported import imported_runs, no_history
from bertscape.io import read_json, write_json, write_text, write_tsv
from bertscape.report import claims_html
from bertscape.runner import run


def seed_docs(job, params: dict) -> dict:
    """seed -> that seed's rows.json; without per-seed inputs (one seed), evaluated here from the artifacts."""
    if "rows" in job.input.keys():
        paths = list(job.input.rows)
        return E.by_seed(list(params["seeds"]), [read_json(p) for p in paths], paths)
    return {int(params["seeds"][0]): evaluate(dict(job.input.items()), params["input_keys"], params)}


def main(job):
    params = dict(job.params.items())
    docs = seed_docs(job, params)
    imported = [f"{t}/{i}" for t, i in imported_runs(params["task_configs"])]
    for d in docs.values():
        d["claims"] = no_history(d["claims"], imported, params["long"])
    doc = E.aggregate(docs, params["claims"], int(params["display_seed"]))
    doc["provenance"] = job.provenance(sources=sources(list(job.input.get("surfaces", job.input.get("rows", [])))))
    write_tsv(job.output.tsv, E.flat_rows(doc["decisions"]), E.COLUMNS)
    write_tsv(job.output.preconditions, P.flat_rows(doc["preconditions"]), ["seed"] + P.COLUMNS)
    write_json(job.output.json, doc)
    t1 = doc["table1_vs_paper"]
    write_tsv(job.output.table1, t1, list(dict.fromkeys(k for r in t1 for k in r)) or ["seed", "task"])
    pngs = {}
    for claim, path in zip(params["forest_claims"], job.output.forest):
        rows = [r for r in doc["decisions"] if r["claim"] == claim]
        save_figure(forest(claim, TITLES[claim], rows, params.get("style")), [path], doc["provenance"])
        with open(path, "rb") as f:
            pngs[claim] = f.read()
    write_text(job.output.html, claims_html(doc, pngs))
    if P.warning(doc["preconditions"]):
        job.log.warning("%s", P.warning(doc["preconditions"]))


run(snakemake, main)  # noqa: F821
