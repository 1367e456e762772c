"""Rule directions: delta1, delta2 (rescaled to ||delta1||), their norms and cosine."""
from pathlib import Path

from bertscape.directions import join, make_directions
from bertscape.io import load_tensors, save_tensors, write_json
from bertscape.modeling import encoder_prefix
from bertscape.runner import run


def main(job):
    run_dir, other_dir = Path(job.input.run), Path(job.input.other)
    theta0, theta1 = (load_tensors(run_dir / f"epoch{e}.safetensors") for e in (0, job.params.epochs))
    theta0_other = load_tensors(other_dir / "epoch0.safetensors")
    theta2 = load_tensors(other_dir / f"epoch{job.params.other_epochs}.safetensors")
    prefix = encoder_prefix(theta0)
    d1, d2, stats = make_directions(theta0, theta1, theta0_other, theta2, prefix)
    stats.update(task=job.wildcards.task, init=job.wildcards.init, other_task=job.params.other_task)
    save_tensors(job.output.deltas, join(d1, d2), {"stats": stats, "provenance": job.provenance()})
    write_json(job.output.stats, {**stats, "provenance": job.provenance()})
    job.log.info("||d1||=%.4g ||d2||=%.4g cos=%.4f", stats["norm_delta1"], stats["norm_delta2_raw"],
                 stats["cos_delta1_delta2"])


run(snakemake, main)  # noqa: F821
