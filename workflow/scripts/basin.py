"""Rule basin: C1's 2D region around theta1 (train loss <= f(theta1) + claims.tau_loss), followed past the
surface's edge on its lattice where it reaches it (at most claims.basin_points nodes evaluated out there), so
that its area is measured instead of censored (P3). A region inside the grid costs no evaluation (no engine)."""
from bertscape.basins import extend
from bertscape.data import TaskSpec
from bertscape.h5io import read_grid
from bertscape.io import load_tensors, write_json
from bertscape.modeling import load_config, resolve_model_dir
from bertscape.runner import run
from bertscape.surfaces import open_engine


def main(job):
    p, wc = job.params, job.wildcards
    grid = read_grid(job.input.surface)
    engine = []  # built on the first node past the edge

    def train_loss(alpha: float, beta: float) -> float:
        if not engine:
            model_dir = resolve_model_dir(**job.model())
            mconf = load_config(model_dir, TaskSpec(**p.task).num_labels)
            engine.append(open_engine("surface", mconf, load_tensors(job.input.train), None, p.eval, p.seed,
                                      job.input.ckpts, p.epochs, job.input.other, job.input.directions)[0])
        return engine[0].evaluate(alpha, beta)["train_loss"]

    region = extend(grid, p.tau, train_loss, p.budget)
    job.log.info("%s %s: region alpha %s beta %s, area %.4g, %d nodes past the grid's edge, %s", wc.task, wc.init,
                 region["alpha_range"], region["beta_range"], region["area"], region["past_edge"],
                 "still open (censored)" if region["censored"] else "closed")
    write_json(job.output[0], {"task": wc.task, "init": wc.init, "metric": "train_loss", "tau": p.tau,
                               "evaluated_in": engine[0].dtype if engine else None, **region, "provenance": job.provenance()})


run(snakemake, main)  # noqa: F821
