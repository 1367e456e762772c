"""Rule filter_curves: K seeded filter-normalised 1D curves of the training loss at theta1 (issue 25, items 2
and 5): each direction's curve, width, loss rises and the local width (bertscape.filternorm)."""
import numpy as np

from bertscape.batches import eval_batches
from bertscape.checkpoints import full_path, load
from bertscape.directions import encoder_keys
from bertscape.filternorm import filter_curves
from bertscape.io import load_tensors, write_json
from bertscape.modeling import encoder_prefix, load_config, resolve_model_dir
from bertscape.data import TaskSpec
from bertscape.runner import run


def main(job):
    p = job.params
    fd = p.filter
    theta1 = load(full_path(job.input.ckpts, p.epochs))  # (packed or plain: bertscape.checkpoints)
    batches = eval_batches(load_tensors(job.input.train), None, p.eval, p.seed)  # the delta1 curves' subset
    config = load_config(resolve_model_dir(**job.model()), TaskSpec(**p.task).num_labels)
    keys = encoder_keys(theta1, encoder_prefix(theta1))
    seeds = [1000 * p.seed + k for k in range(fd["directions"])]
    alpha = np.linspace(-fd["radius"], fd["radius"], fd["points"])
    r = filter_curves(config, theta1, keys, batches, seeds, alpha, p.tau, fd["radii"])  # fp32 engine
    s = r["summary"]
    job.log.info("%s %s: f(theta1) %.4g, width %.4g +- %.2g over %d directions (%d censored), local width %.4g",
                 job.wildcards.task, job.wildcards.init, r["f_theta1"], s["width"]["mean"], s["width"]["sd"],
                 len(seeds), s["censored"], s["local_width"]["radius"])
    write_json(job.output[0], {"task": job.wildcards.task, "init": job.wildcards.init, **r,
                               "provenance": job.provenance()})


run(snakemake, main)  # noqa: F821
