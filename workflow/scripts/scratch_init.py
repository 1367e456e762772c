"""Rule scratch_init: the one random encoder initialisation shared by every scratch run."""
from bertscape.io import save_tensors
from bertscape.modeling import resolve_model_dir, scratch_encoder_state
from bertscape.runner import run


def main(job):
    c = job.smk.config
    state = scratch_encoder_state(resolve_model_dir(job.params.model, c["resources_dir"], c["model"]["revision"]),
                                  job.params.seed)
    save_tensors(job.output[0], state, {"provenance": job.provenance(), "seed": job.params.seed})


run(snakemake, main)  # noqa: F821
