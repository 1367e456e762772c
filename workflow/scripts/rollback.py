"""Rule rollback: Table 1 row for one task (dev score in the task's metric with each layer group reset to theta0)."""
from pathlib import Path

from bertscape.config import layer_groups
from bertscape.data import TaskSpec
from bertscape.io import load_tensors, write_tsv
from bertscape.modeling import load_config, resolve_model_dir
from bertscape.rollback import rollback_rows
from bertscape.runner import run


def main(job):
    model_dir = resolve_model_dir(**job.model())
    groups = layer_groups(job.params.groups, load_config(model_dir, 2).num_hidden_layers)
    ckpts = Path(job.input.ckpts)
    spec = TaskSpec(**job.params.task)
    rows = rollback_rows(model_dir, ckpts / "epoch0.safetensors", ckpts / f"epoch{job.params.epochs}.safetensors",
                         load_tensors(job.input.dev), groups, job.params.batch_tokens,
                         spec.num_labels, spec.metric)
    write_tsv(job.output[0], [{"task": job.wildcards.task, **r} for r in rows])
    job.sidecar(job.output[0])


run(snakemake, main)  # noqa: F821
