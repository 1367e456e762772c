"""Rule claims: every claim of the paper as numbers with a criterion (claims.tsv/.json, Table 1 vs paper, HTML),
gated by its preconditions (P1-P4, preconditions.tsv): an n/a names what failed and the key to change."""
from bertscape import preconditions as P
from bertscape.audit import sources
from bertscape.claims import evaluate
from bertscape.imported import imported_runs, no_history
from bertscape.io import write_json, write_text, write_tsv
from bertscape.report import claims_html
from bertscape.runner import run
from bertscape.verdicts import COLUMNS, flat_rows, tally


def main(job):
    params = dict(job.params.items())
    r = evaluate(dict(job.input.items()), params.pop("input_keys"), params)
    rows, checks, table1 = r["claims"], r["preconditions"], r["table1_vs_paper"]
    rows = no_history(rows, [f"{t}/{i}" for t, i in imported_runs(params["task_configs"])], params["long"])
    prov = job.provenance(sources=sources(list(job.input.surfaces)))
    write_tsv(job.output.tsv, flat_rows(rows), COLUMNS)
    write_tsv(job.output.preconditions, P.flat_rows(checks), P.COLUMNS)
    write_json(job.output.json, {"claims": rows, "tally": tally(rows), "preconditions": checks,
                                 "table1_vs_paper": table1, "precision": r["precision"], "provenance": prov})
    write_tsv(job.output.table1, table1)
    write_text(job.output.html, claims_html(rows, table1, prov, checks, r["precision"]))
    if P.warning(checks):
        job.log.warning("%s", P.warning(checks))


run(snakemake, main)  # noqa: F821
