"""Rule filter_surface: one 2D filter-normalised training-loss surface at theta1 (issue 25, display seed only):
directions 0 and 1 of the run seed's filter_curves draws, the lattice local width in its attrs."""
import numpy as np

from bertscape.batches import eval_batches
from bertscape.checkpoints import full_path, load
from bertscape.data import TaskSpec
from bertscape.directions import encoder_keys
from bertscape.filternorm import filter_surface
from bertscape.h5io import write_grid
from bertscape.io import load_tensors
from bertscape.modeling import encoder_prefix, load_config, resolve_model_dir
from bertscape.runner import run


def main(job):
    p = job.params
    theta1 = load(full_path(job.input.ckpts, p.epochs))  # (packed or plain: bertscape.checkpoints)
    batches = eval_batches(load_tensors(job.input.train), None, p.eval, p.seed)  # the delta1 curves' subset
    config = load_config(resolve_model_dir(**job.model()), TaskSpec(**p.task).num_labels)
    keys = encoder_keys(theta1, encoder_prefix(theta1))
    axis = np.linspace(-p.radius, p.radius, p.points)
    g = filter_surface(config, theta1, keys, batches, (1000 * p.seed, 1000 * p.seed + 1), axis, p.tau)  # fp32
    g.attrs.update(task=job.wildcards.task, init=job.wildcards.init, seed=p.seed, provenance=job.provenance())
    job.log.info("%s %s: f(theta1) %.4g, lattice local width %.4g%s", job.wildcards.task, job.wildcards.init,
                 g.anchors["end"]["train_loss"], g.attrs["local_width"],
                 " (censored)" if g.attrs["local_width_censored"] else "")
    write_grid(job.output[0], g)


run(snakemake, main)  # noqa: F821
