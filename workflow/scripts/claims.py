"""Rule claims: every seed's claim rows (rules claims_seed) as claims.tsv/.json, preconditions.tsv, Table 1 vs
paper and the claims page. For now the display seed's rows, as a one-seed run wrote them."""
from bertscape import preconditions as P
from bertscape.io import read_json, write_json, write_text, write_tsv
from bertscape.report import claims_html
from bertscape.runner import run
from bertscape.verdicts import COLUMNS, flat_rows, tally


def main(job):
    per_seed = dict(zip(job.params.seeds, job.input.rows))  # aligned by the rule
    r = read_json(per_seed[job.params.display_seed])
    rows, checks, table1 = r["claims"], r["preconditions"], r["table1_vs_paper"]
    prov = job.provenance(sources=r["provenance"].get("sources", {}))  # its lineage runs through the rows files
    write_tsv(job.output.tsv, flat_rows(rows), COLUMNS)
    write_tsv(job.output.preconditions, P.flat_rows(checks), P.COLUMNS)
    write_json(job.output.json, {"claims": rows, "tally": tally(rows), "preconditions": checks,
                                 "table1_vs_paper": table1, "precision": r["precision"], "provenance": prov,
                                 "seed": r["seed"], "seeds": list(job.params.seeds)})
    write_tsv(job.output.table1, table1)
    write_text(job.output.html, claims_html(rows, table1, prov, checks, r["precision"]))
    if P.warning(checks):
        job.log.warning("%s", P.warning(checks))


run(snakemake, main)  # noqa: F821
