"""Rule points: the nodes of a 2D surface the claims read, without the surface (an extra seed's C1 2D area, P3's 2D
part, C4's window and C3's point; bertscape.sparse): a points grid on the surface's lattice (NaN where not
evaluated) and C1's region as the basin rule records it."""
from pathlib import Path

from bertscape.data import TaskSpec
from bertscape.io import read_tsv, write_json
from bertscape.modeling import load_config, resolve_model_dir
from bertscape.runner import run
from bertscape.sparse import run_points
from bertscape.surfaces import EngineSpec


def main(job):
    p, wc, inp = job.params, job.wildcards, job.input
    task = TaskSpec(**p.task)
    mconf = load_config(resolve_model_dir(**job.model()), task.num_labels)
    final = None
    if "long" in inp.keys():  # C3: the cell around the long run's last point
        last = read_tsv(inp.long)[-1]
        final = (float(last["d_alpha"]), float(last["d_beta"]))
    dev = Path(inp.dev) if "dev" in inp.keys() else None  # a control's points have no dev set (rule points)
    spec = EngineSpec("surface", mconf, Path(inp.ckpts), p.epochs, Path(inp.other), Path(inp.directions),
                      Path(inp.train), dev, p.eval, p.seed)
    region = run_points(spec, p.axis, p.tau, p.budget, p.window, final, job.output.grid,
                        {"task": wc.task, "init": wc.init, "group": ""},
                        {"loss": task.loss, "dev_error_is": task.error, "provenance": job.provenance()}, p.theta1)
    job.log.info("%s %s: region alpha %s beta %s, area %.4g, %d nodes past the grid's edge, %s", wc.task, wc.init,
                 region["alpha_range"], region["beta_range"], region["area"], region["past_edge"],
                 "still open (censored)" if region["censored"] else "closed")
    write_json(job.output.basin, {"task": wc.task, "init": wc.init, "metric": "train_loss", "tau": p.tau, **region,
                                  "provenance": job.provenance()})


run(snakemake, main)  # noqa: F821
