"""Rule scratch_init: the one random encoder initialisation shared by every scratch run."""
from bertscape.io import save_tensors
from bertscape.modeling import model_identity, resolve_model_dir, scratch_encoder_state
from bertscape.runner import run


def main(job):
    model_dir = resolve_model_dir(**job.model())  # the model enters the DAG by content (input model)
    state = scratch_encoder_state(model_dir, job.params.seed)
    sources = {"model": model_identity(model_dir=model_dir, **job.params.model)}
    save_tensors(job.output[0], state, {"provenance": job.provenance(sources=sources), "seed": job.params.seed})


run(snakemake, main)  # noqa: F821
