"""Rule claims: every seed's gated claim rows (rules claims_seed: rows.json) decided over seeds -- per (claim,
measure, task) and pooled, a headline per claim with Holm's correction (claims.tsv/.json/.html), a forest plot per
claim, each seed's preconditions (preconditions.tsv) and Table 1 beside the paper's."""
from bertscape import evidence as E
from bertscape import preconditions as P
from bertscape import xseedclaims as X
from bertscape.c1units import disagreements
from bertscape.claims import TITLES
from bertscape.figures.forest import forest
from bertscape.figures.save import save_figure
from bertscape.io import read_json, write_json, write_text, write_tsv
from bertscape.modelcards import model_doc
from bertscape.report import claims_html
from bertscape.runner import run


def main(job):
    params = dict(job.params.items())
    paths = list(job.input.rows)  # aligned with params.seeds by the rule; each already gated (claims_seed)
    docs = E.by_seed(list(params["seeds"]), [read_json(p) for p in paths], paths)
    # the seed pairs' paths (>= 2 seeds; the rule always names them, possibly none)
    lines = X.read_paths(list(job.input.get("paths", [])), params.get("path_keys", []))
    basins, table = X.barrier_rows(lines, docs, list(params.get("tasks", [])), list(params["seeds"]), params["claims"])
    cross = basins + X.c6_null_rows(lines, docs, list(params["seeds"]), params["claims"])
    doc = E.aggregate(docs, params["claims"], int(params["display_seed"]), cross)
    doc["cross_seed_basins"] = table
    doc.update(model=model_doc(params["model"]), unit_disagreements=disagreements(doc["decisions"]))
    lineage = {k: v for d in docs.values() for k, v in d.get("provenance", {}).get("sources", {}).items()}
    doc["provenance"] = job.provenance(sources=dict(sorted(lineage.items())))  # through each seed's rows
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
