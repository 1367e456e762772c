"""Rule dense_path: C2's straight path theta0 -> theta1 of every main run of one seed, in one process."""
from pathlib import Path

from bertscape.data import TaskSpec
from bertscape.modeling import load_config, resolve_model_dir
from bertscape.runner import run
from bertscape.surfaces import EngineSpec, run_key, run_shard

FILES = ("directions", "ckpts", "other", "train")  # one per run, in params.runs' order


def main(job):
    p, inp = job.params, job.input
    model_dir = resolve_model_dir(**job.model())
    prov = job.provenance()  # the job's record, in every run's grid; attrs task, init and run_inputs say which run
    for n, ((task_name, init), out) in enumerate(zip(p.runs, job.output)):
        task = TaskSpec(**p.tasks[task_name])
        files = {k: inp[k][n] for k in FILES}
        spec = EngineSpec("curve", load_config(model_dir, task.num_labels), Path(files["ckpts"]), p.epochs[n],
                          Path(files["other"]), Path(files["directions"]), Path(files["train"]), None, p.eval, p.seed)
        key = run_key(dict(p.items()), *[(f, Path(f).stat().st_mtime_ns) for f in files.values()])
        names = {"task": task_name, "init": init, "group": ""}
        run_shard(spec, p.axis, 0, 1, out, key, names,
                  {"loss": task.loss, "dev_error_is": task.error, "provenance": prov, "run_inputs": files})
        job.log.info(f"{task_name} {init}: {out}")


run(snakemake, main)  # noqa: F821
