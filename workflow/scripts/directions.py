"""Rule directions: ||delta1||, ||delta2|| (before rescaling), cos and the scale of delta2 (the tensors are
recomputed from the checkpoints by every job that uses them, so they are never stored)."""
from bertscape.checkpoints import directions
from bertscape.io import write_json
from bertscape.runner import run


def main(job):
    _, _, stats = directions(job.input.run, job.params.epochs, job.input.other, job.params.other_epochs)
    stats.update(task=job.wildcards.task, init=job.wildcards.init, other_task=job.params.other_task)
    write_json(job.output.stats, {**stats, "provenance": job.provenance()})
    job.log.info("||d1||=%.4g ||d2||=%.4g cos=%.4f", stats["norm_delta1"], stats["norm_delta2_raw"],
                 stats["cos_delta1_delta2"])


run(snakemake, main)  # noqa: F821
