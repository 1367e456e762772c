"""Rules surface_gather, layer_gather: merge shard files into the final HDF5 grid."""
from bertscape.runner import run
from bertscape.h5io import gather


def main(job):
    grid = gather(list(job.input.shards), job.output[0], job.provenance())
    job.log.info("%s: %s points, %s shards", job.output[0], grid.done.sum(), len(job.input.shards))


run(snakemake, main)  # noqa: F821
