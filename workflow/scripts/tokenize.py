"""Rule tokenize: tokenise one prepared split once into a padded safetensors cache."""
from bertscape.data.tokenize import tokenize_file
from bertscape.modeling import resolve_model_dir
from bertscape.runner import run


def main(job):
    model_dir = resolve_model_dir(**job.model())  # the model enters the DAG by content (input model)
    t = tokenize_file(job.input.rows, job.output[0], model_dir, job.params.max_length,
                      {"provenance": job.provenance()})
    job.log.info("%d examples, mean length %.1f tokens", len(t["labels"]), t["lengths"].float().mean())


run(snakemake, main)  # noqa: F821
