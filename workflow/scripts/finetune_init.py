"""Rule finetune_init: the pre-trained encoder, written once for every fine-tuning run's theta0 (fp32)."""
from bertscape.io import save_tensors
from bertscape.modeling import base_prefix, build_model, is_encoder_param, model_identity, resolve_model_dir
from bertscape.runner import run


def main(job):
    model_dir = resolve_model_dir(**job.model())  # the model enters the DAG by content (input model)
    model = build_model(model_dir, 2, "finetune", 0)  # the encoder as every fine-tuning run loads it
    prefix = base_prefix(model)
    state = {k: v.detach().clone() for k, v in model.state_dict().items() if is_encoder_param(k, prefix)}
    sources = {"model": model_identity(model_dir=model_dir, **job.params.model)}
    save_tensors(job.output[0], state, {"provenance": job.provenance(sources=sources)})


run(snakemake, main)  # noqa: F821
