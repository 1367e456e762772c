"""Rule norms: the per-layer norm table of one run (bertscape.layernorms): ||theta0^G||, ||theta1^G||, ||delta1^G||
per block, layer group, part and the whole encoder; claims_seed reads it for C1's relative units and the claims page."""
from bertscape.checkpoints import full_path, load
from bertscape.config import layer_groups
from bertscape.io import write_json
from bertscape.layernorms import norm_table
from bertscape.modeling import load_config, resolve_model_dir
from bertscape.runner import run


def main(job):
    mconf = load_config(resolve_model_dir(**job.model()), 2)
    groups = layer_groups(job.params.groups, mconf.num_hidden_layers)
    theta0, theta1 = load(full_path(job.input.ckpts, 0)), load(full_path(job.input.ckpts, job.params.epochs))
    rows = norm_table(theta0, theta1, mconf, groups)
    write_json(job.output[0], {"task": job.wildcards.task, "init": job.wildcards.init, "epoch_theta1": job.params.epochs,
                               "rows": rows, "provenance": job.provenance()})
    enc = rows[-1]
    job.log.info("encoder: ||theta0||=%.4g ||theta1||=%.4g ||delta1||=%.4g", enc["norm_theta0"], enc["norm_theta1"],
                 enc["norm_delta1"])


run(snakemake, main)  # noqa: F821
