"""Rule vtk_export: a surface or layer surface as a VTK structured grid (.vtk) for ParaView."""
from bertscape.h5io import read_grid
from bertscape.runner import run
from bertscape.vtk import write_vtk


def main(job):
    write_vtk(job.output[0], read_grid(job.input.data), job.params.height)
    job.sidecar(job.output[0])


run(snakemake, main)  # noqa: F821
