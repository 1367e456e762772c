"""Rule table1: the layer-rollback table, each task in its own metric (Markdown, TSV, PNG/PDF)."""
from bertscape.figures.inputs import table1_rows
from bertscape.figures.save import save_figure
from bertscape.figures.table import table1
from bertscape.io import write_text, write_tsv
from bertscape.runner import run


def main(job):
    rows = table1_rows(list(job.input.data), job.params.report)
    md, fig = table1(rows)
    write_text(job.output.md, md)
    groups = [g for g in rows[0]["layers"]]
    keys = ["task", "metric", "finetuned", *groups]
    write_tsv(job.output.tsv, [{k: r[k] for k in keys} for r in rows], keys)
    save_figure(fig, list(job.output.figs), job.provenance())


run(snakemake, main)  # noqa: F821
