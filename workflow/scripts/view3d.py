"""Rule view3d: one self-contained interactive 3D page (plotly.js embedded) of every surface or layer surface."""
from bertscape.h5io import read_grid
from bertscape.io import write_text
from bertscape.runner import run
from bertscape.views import make_view, view_html


def main(job):
    grids = [read_grid(p) for p in job.input.data]
    write_text(job.output[0], view_html(make_view(job.wildcards.view, grids, dict(job.params.style))))
    job.sidecar(job.output[0])
    job.log.info("wrote %s (%d surfaces)", job.output[0], len(grids))


run(snakemake, main)  # noqa: F821
