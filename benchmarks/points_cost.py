"""What an extra seed's points cost against a full surface (issue 24, item 2): replay the points rule's node
selection (bertscape.sparse.evaluate_points) on a finished run's stored surfaces and count the nodes it asks for.

The value functions read the stored surface (and, past its edge, the nodes the basin rule stored in
``<init>.basin.json``), so no model runs. Per (task, init): grid nodes evaluated on the training subset, those
also on the dev set, nodes past the edge (training subset), against the full surface's nodes (every one on both
sets); "cost" weighs a node by the examples it runs (n_train_subset, n_dev from the surface's attributes), the
2 anchors counted on both sides. The replay's region is checked against the stored basin record, and C1/C4/C3's
numbers from the points grid against the surface's.

    python benchmarks/points_cost.py [results/embedded] [--window 1.0]
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from bertscape.h5io import read_grid
from bertscape.io import read_json, read_tsv
from bertscape.measures import basin, bilinear, window_spearman
from bertscape.sparse import evaluate_points, points_grid, points_region

TRAIN, DEV = ("train_loss", "train_acc"), ("dev_loss", "dev_acc", "dev_error")


def stored(grid, extra: dict, keys, counter: list):
    """A value function over the stored run: its first batch is the anchors (evaluate_points asks for them first),
    then grid nodes from the surface, nodes past its edge from the basin rule's record."""
    def at(where):
        first = not counter
        counter.extend(where)
        if first:
            return [{k: grid.anchors[n][k] for k in keys} for n in ("start", "end")]
        out = []
        for a, b in where:
            if grid.alpha[0] <= a <= grid.alpha[-1] and grid.beta[0] <= b <= grid.beta[-1]:
                i, j = int(np.argmin(abs(grid.alpha - a))), int(np.argmin(abs(grid.beta - b)))
                out.append({k: float(grid.values[k][i, j]) for k in keys})
            else:
                out.append({"train_loss": extra[round(a, 9), round(b, 9)]})
        return out
    return at


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("results", nargs="?", default="results/embedded")
    ap.add_argument("--window", type=float, default=1.0, help="claims.window of the run (default: the schema's)")
    args = ap.parse_args()
    root = Path(args.results)
    print(f"{'task':6} {'init':8} {'grid':>4} {'train':>5} {'+dev':>4} {'past':>4} {'nodes':>6} {'cost':>6}  check")
    tot = []
    for h5 in sorted(root.glob("surfaces/*/*.h5")):
        task, init = h5.parent.name, h5.stem
        g = read_grid(h5)
        rec = read_json(h5.with_suffix(".basin.json"))
        extra = {(round(a, 9), round(b, 9)): x for a, b, x in rec["extra_points"]}
        long = root / "trajectories" / task / "long.tsv"
        final = None
        if init == "finetune" and long.exists():
            last = read_tsv(long)[-1]
            final = (float(last["d_alpha"]), float(last["d_beta"]))
        tcalls, dcalls = [], []
        keys = lambda ks: [k for k in ks if k in g.values]
        train, dev = stored(g, extra, keys(TRAIN), tcalls), stored(g, extra, keys(DEV), dcalls)
        pts = evaluate_points(g.alpha, g.beta, train, dev, rec["tau"], rec["budget"], args.window, final)
        pg = points_grid(pts, dict(g.attrs))
        reg = points_region(pts, pg, rec["tau"], rec["budget"])
        same = all(reg[k] == rec[k] for k in ("area", "censored", "past_edge", "alpha_range", "beta_range", "in_grid"))
        same &= window_spearman(pg, pg, args.window) == window_spearman(g, g, args.window)
        if final is not None:
            same &= bilinear(pg, "dev_error", *final) == bilinear(g, "dev_error", *final)
        same &= basin(pg, "train_loss", rec["tau"]) == basin(g, "train_loss", rec["tau"])
        n = g.values["train_loss"].size
        nt, nd, past = int(pg.done.sum()), pg.attrs["points_dev_nodes"], pg.attrs["points_past_edge"]
        wt, wd = g.attrs["n_train_subset"], g.attrs["n_dev"]
        # the full surface: every node + 2 anchors on both sets (its past-edge nodes are the basin rule's, the same)
        cost = ((nt + past) * wt + nd * wd + 2 * (wt + wd)) / ((n + past) * wt + (n + 2) * wd + 2 * wt)
        assert len(tcalls) == nt + past + 2 and len(dcalls) == nd + 2
        tot.append(cost)
        print(f"{task:6} {init:8} {n:4d} {nt:5d} {nd:4d} {past:4d} {(nt + nd) / (2 * n):6.3f} {cost:6.3f}  "
              f"{'same' if same else 'DIFFERS'}")
    print(f"nodes = (train + dev nodes) / (2 x grid); cost = examples run / the full surface's (n_train_subset "
          f"{g.attrs['n_train_subset']}, n_dev {g.attrs['n_dev']}); mean cost {np.mean(tot):.3f}"
          if tot else "no surfaces found")
    if tot and not math.isfinite(np.mean(tot)):
        raise SystemExit("non-finite cost")


if __name__ == "__main__":
    main()
