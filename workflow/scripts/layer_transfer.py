"""Rule layer_transfer: per layer group, how far each task's fine-tuning moved it and how alike two tasks' moves are
(bertscape.transfer; C5's "transferable across tasks" half, descriptive)."""
from bertscape.architectures import layer_map_of
from bertscape.checkpoints import full_path, load
from bertscape.config import layer_groups
from bertscape.io import write_json
from bertscape.modeling import load_config, resolve_model_dir
from bertscape.runner import run
from bertscape.transfer import group_transfer


def main(job):
    model_dir = resolve_model_dir(**job.model())
    config = load_config(model_dir, 2)
    groups = layer_groups(job.params.groups, config.num_hidden_layers)
    runs = dict(zip(job.params.tasks, job.input.ckpts))
    theta0 = {t: load(full_path(d, 0)) for t, d in runs.items()}
    theta1 = {t: load(full_path(d, job.params.epochs[t])) for t, d in runs.items()}
    write_json(job.output[0], {"groups": group_transfer(theta0, theta1, groups, layer_map_of(config)),
                               "provenance": job.provenance()})


run(snakemake, main)  # noqa: F821
