"""Rule summary: where the figures are, and the headline numbers."""
from bertscape.io import write_text
from bertscape.runner import run
from bertscape.summary import summarize


def main(job):
    write_text(job.output[0], summarize(list(job.input.figures), list(job.input.directions), list(job.input.epochs),
                                           job.input.claims, job.params.report))


run(snakemake, main)  # noqa: F821
