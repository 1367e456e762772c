"""Rule directions: ||delta1||, ||delta2|| (before rescaling), cos and the scale of delta2 (the tensors are
recomputed from the checkpoints by every job that uses them, so they are never stored), and the run's per-layer
norm table (bertscape.layernorms): ||theta0^G||, ||theta1^G||, ||delta1^G|| per block, part and the whole encoder,
which claims_seed reads for C1's relative units and the claims page (it adds the layer groups' rows); a control
run's job (rule directions_control) writes the stats alone."""
from bertscape.checkpoints import directions_from, full_path, load
from bertscape.io import write_json
from bertscape.layernorms import norm_table
from bertscape.modeling import load_config, resolve_model_dir
from bertscape.runner import run


def main(job):
    p, wc = job.params, job.wildcards
    theta0, theta1 = load(full_path(job.input.run, 0)), load(full_path(job.input.run, p.epochs))
    _, _, stats = directions_from(theta0, theta1, job.input.other, p.other_epochs, p.epochs)
    stats.update(task=wc.task, init=wc.init, other_task=p.other_task)
    write_json(job.output.stats, {**stats, "provenance": job.provenance()})
    job.log.info("||d1||=%.4g ||d2||=%.4g cos=%.4f", stats["norm_delta1"], stats["norm_delta2_raw"],
                 stats["cos_delta1_delta2"])
    if not hasattr(job.output, "norms"):  # directions_control
        return
    mconf = load_config(resolve_model_dir(**job.model()), 2)
    rows = norm_table(theta0, theta1, mconf, {})  # no groups: changing layers.groups must not rerun this job
    write_json(job.output.norms, {"task": wc.task, "init": wc.init, "epoch_theta1": p.epochs, "rows": rows,
                                  "provenance": job.provenance()})
    enc = rows[-1]
    job.log.info("encoder: ||theta0||=%.4g ||theta1||=%.4g ||delta1||=%.4g", enc["norm_theta0"], enc["norm_theta1"],
                 enc["norm_delta1"])


run(snakemake, main)  # noqa: F821
