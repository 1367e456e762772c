"""Rule prepare_data: one task's train/dev rows from the configured source, in the prepared format."""
from bertscape.data.prepare import prepare
from bertscape.io import read_json, write_jsonl
from bertscape.runner import run


def main(job):
    data = dict(job.params.data)
    sources = {"data": data}
    task = job.wildcards.task
    if job.input.rows:  # the files are identified by content (input rows), located by the config
        sources["files"] = read_json(job.input.rows[0])["files"]
    if data.get("custom"):
        data["custom"] = {**data["custom"], **({"path": job.location("tasks", task, "path")}
                                                if job.location("tasks", task, "path") else {})}
    elif data["source"] == "glue_dir":
        data["glue_dir"] = job.location("data", "glue_dir")
    data["cache_dir"] = f"{job.location('resources_dir')}/datasets"  # hub datasets (GLUE or a custom task)
    train, dev = prepare(task, data)
    for rows, path in ((train, job.output.train), (dev, job.output.dev)):
        write_jsonl(path, rows)
        job.sidecar(path, sources=sources)
    job.log.info("%s: %d train, %d dev examples", task, len(train), len(dev))


run(snakemake, main)  # noqa: F821
