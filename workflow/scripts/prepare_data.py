"""Rule prepare_data: one task's train/dev rows from the configured source, in the prepared format."""
from bertscape.data.prepare import prepare
from bertscape.io import read_json, write_jsonl
from bertscape.runner import run


def main(job):
    data = dict(job.params.data)
    sources = {"data": data}
    if data["source"] == "glue_dir":  # identified by content (input glue), located by the config
        data["glue_dir"] = job.smk.config["data"]["glue_dir"]
        sources["files"] = read_json(job.input.glue[0])["files"]
    elif data["source"] == "hub":
        data["cache_dir"] = f"{job.smk.config['resources_dir']}/datasets"
    train, dev = prepare(job.wildcards.task, data)
    for rows, path in ((train, job.output.train), (dev, job.output.dev)):
        write_jsonl(path, rows)
        job.sidecar(path, sources=sources)
    job.log.info("%s: %d train, %d dev examples", job.wildcards.task, len(train), len(dev))


run(snakemake, main)  # noqa: F821
