"""Rule summary: where the figures are, and the headline numbers."""
from bertscape.io import write_text
from bertscape.runner import run
from bertscape.summary import summarize


def main(job):
    epochs = {tuple(k): p for k, p in zip(job.params.epoch_keys, job.input.epochs)}  # (task, init) from the rule
    write_text(job.output[0], summarize(list(job.input.figures), list(job.input.directions), epochs,
                                           job.input.claims, job.params.report))


run(snakemake, main)  # noqa: F821
