"""One surface shard of a BERT-large-sized model in fp32, TF32 and bf16: points/s and MFU.

    python benchmarks/gpu_check.py [--points 16] [--examples 256] [--length 128]   # on a CUDA GPU
    python benchmarks/gpu_check.py --tiny                                          # a seconds-long CPU smoke run

Random weights of BERT-large's shape (24 layers, hidden 1024, 16 heads, intermediate 4096; built from the
config, nothing downloaded), two random directions, random token ids; the fast engine (BertLandscape)
evaluates a shard of grid points in each precision, then the multi-point engine (bertscape.multipoint, fp32)
the same shard --multi nodes per pass ("fp32 xK" row; 0 leaves it out). MFU = useful FLOPs/s (real tokens through the layers)
over the GPU's datasheet dense peak for that precision; max rel err = train loss vs the fp32 run.
"""
from __future__ import annotations

import argparse
import time

import torch

# dense (no sparsity) datasheet peaks, TFLOP/s: fp32 (CUDA cores), tf32 and bf16 (tensor cores)
PEAKS = {"H200": {"fp32": 67, "tf32": 494.5, "bf16": 989}, "H100 SXM": {"fp32": 67, "tf32": 494.5, "bf16": 989},
         "H100 PCIe": {"fp32": 51, "tf32": 378, "bf16": 756}, "H100 NVL": {"fp32": 60, "tf32": 417.5, "bf16": 835},
         "A100": {"fp32": 19.5, "tf32": 156, "bf16": 312}}


def gpu_peaks() -> tuple[str, dict | None]:
    if not torch.cuda.is_available():
        return "cpu", None
    name = torch.cuda.get_device_name()
    for key in ("H200", "H100 NVL", "H100 PCIe", "A100"):
        if all(w in name for w in key.split()):
            return name, PEAKS[key]
    return name, PEAKS["H100 SXM"] if "H100" in name else None


def build(args):
    from transformers import BertConfig

    from bertscape.batches import make_batches

    if args.tiny:
        args.examples, args.length, args.points = 16, 24, 4
        cfg = BertConfig(vocab_size=500, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=128, max_position_embeddings=64, num_labels=2)
    else:
        cfg = BertConfig(vocab_size=30522, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                         intermediate_size=4096, max_position_embeddings=512, num_labels=2)
    from transformers import BertForSequenceClassification

    torch.manual_seed(0)
    theta0 = {k: v.detach().clone() for k, v in BertForSequenceClassification(cfg).state_dict().items()}
    keys = [k for k in theta0 if k.startswith("bert.") and "position_ids" not in k]
    g = torch.Generator().manual_seed(1)
    d1 = {k: 0.01 * theta0[k].abs().mean() * torch.randn(theta0[k].shape, generator=g) for k in keys}
    d2 = {k: 0.01 * theta0[k].abs().mean() * torch.randn(theta0[k].shape, generator=g) for k in keys}
    n, T = args.examples, args.length
    lengths = torch.randint(T // 2, T + 1, (n,), generator=g)
    ids = torch.randint(1, cfg.vocab_size, (n, T), generator=g) * (torch.arange(T)[None] < lengths[:, None])
    data = {"input_ids": ids, "token_type_ids": torch.zeros_like(ids), "lengths": lengths,
            "labels": torch.randint(0, 2, (n,), generator=g)}
    return cfg, theta0, d1, d2, make_batches(data, torch.arange(n), "train", args.batch_tokens)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=16, help="grid points in the shard")
    ap.add_argument("--examples", type=int, default=256)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--batch-tokens", type=int, default=16384)
    ap.add_argument("--multi", type=int, default=8, help="nodes per pass of the multi-point row (0: no such row)")
    ap.add_argument("--tiny", action="store_true", help="a tiny model on the CPU: checks this script runs")
    args = ap.parse_args()
    from bertscape.landscape import BertLandscape
    from bertscape.multipoint import MultiPointLandscape

    cfg, theta0, d1, d2, batches = build(args)
    name, peaks = gpu_peaks()
    dtypes = ["fp32", "tf32", "bf16"] if torch.cuda.is_available() else ["fp32", "bf16"]
    pts = [(-1 + 2 * i / max(1, args.points - 1), 0.5 - i / max(1, args.points)) for i in range(args.points)]
    print(f"device {name}; BERT {cfg.num_hidden_layers} layers x {cfg.hidden_size}; {args.examples} examples "
          f"({sum(b.n_tokens for b in batches)} real tokens); {args.points} points per shard")
    print(f"{'precision':<10}{'build s':>8}{'points/s':>10}{'TFLOP/s':>9}{'MFU':>7}{'max rel err':>13}")
    ref = None
    K = args.multi
    for dt in dtypes + ([f"fp32 x{K}"] if K > 1 else []):
        t = time.perf_counter()
        multi = dt.startswith("fp32 x")
        eng = (MultiPointLandscape if multi else BertLandscape)(cfg, theta0, d1, d2, batches,
                                                               dtype="fp32" if multi else dt)
        run = (lambda ps: [v["train_loss"] for s in range(0, len(ps), K) for v in eng.evaluate_many(ps[s:s + K])]) \
            if multi else (lambda ps: [eng.evaluate(a, b)["train_loss"] for a, b in ps])
        run(pts[:K] if multi else pts[:1])  # warm-up (kernels, allocator)
        build_s = time.perf_counter() - t
        if eng.device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        vals = run(pts)  # metrics() syncs each point
        dt_s = (time.perf_counter() - t) / len(pts)
        ref = ref or vals
        err = max(abs(x - y) / abs(y) for x, y in zip(vals, ref))
        tf = eng.useful_flops() / dt_s / 1e12
        mfu = f"{tf / peaks[dt.split()[0]]:.0%}" if peaks else "n/a"
        print(f"{dt:<10}{build_s:>8.1f}{1 / dt_s:>10.2f}{tf:>9.1f}{mfu:>7}{err:>13.1e}")
        del eng
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    print("MFU: useful FLOPs (real tokens through the layers) / datasheet dense peak of that precision "
          f"({'; '.join(f'{k}: {v}' for k, v in peaks.items()) + ' TFLOP/s' if peaks else 'no GPU: no datasheet peak'})")


if __name__ == "__main__":
    main()
