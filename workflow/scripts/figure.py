"""Rule figure: one of Figures 1-7 (PNG and PDF) from the pipeline's files."""
from pathlib import Path

from bertscape.figures.inputs import make_figure
from bertscape.figures.save import save_figure
from bertscape.runner import run


def main(job):
    fig = make_figure(job.wildcards.fig, list(job.input.data), dict(job.params.style), job.params.file_keys,
                      job.params.display_seed)
    save_figure(fig, list(job.output), job.provenance())
    job.log.info("wrote %s", ", ".join(Path(p).name for p in job.output))


run(snakemake, main)  # noqa: F821
