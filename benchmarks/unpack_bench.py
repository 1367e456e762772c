"""Time :func:`bertscape.checkpoints.load` of a packed checkpoint (the fp32 XOR planes against the base), and
:func:`bertscape.checkpoints.unpack` against the implementation before 2026-12-06 (three n x 4-byte buffers: the
planes, their transpose and the XOR's result), checking that both give the same bits.

    PYTHONPATH=src python benchmarks/unpack_bench.py CHECKPOINT [--reps 5]

CHECKPOINT: a run's last epoch, e.g. results/embedded/seed42/train/MRPC/finetune/checkpoints/epoch12.safetensors.
Every landscape job reads two packed checkpoints (theta1 and the other task's theta1); prints the median seconds
per checkpoint of each implementation over ``--reps`` (one thread).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
import zlib
from pathlib import Path

import numpy as np
import torch

from bertscape import checkpoints as ck
from bertscape.io import load_tensors, tensors_metadata


def unpack_before(blob: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    raw, n = blob.numpy(), b.numel()
    planes = np.empty((4, n), dtype=np.uint8)
    planes[0] = raw[:n]
    planes[1:] = np.frombuffer(zlib.decompress(raw[n:].tobytes()), dtype=np.uint8).reshape(3, n)
    x = np.ascontiguousarray(planes.T).view(np.uint32).reshape(b.shape) ^ b.contiguous().numpy().view(np.uint32)
    return torch.from_numpy(x.view(np.float32))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("path", type=Path)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(1)
    meta = tensors_metadata(a.path)
    base, stored = load_tensors(a.path.parent / meta["base"]), load_tensors(a.path)
    shapes = json.loads(meta["packed"])
    times: dict[str, list[float]] = {"before": [], "now": []}
    for _ in range(a.reps):
        for name, f in (("before", unpack_before), ("now", ck.unpack)):
            t = time.perf_counter()
            out = {k: f(stored[ck.PACKED_PREFIX + k], base[k]) for k in shapes}
            times[name].append(time.perf_counter() - t)
            if name == "before":
                ref = out
            elif not all(torch.equal(ref[k].view(torch.int32), out[k].view(torch.int32)) for k in shapes):
                raise SystemExit("the two implementations differ")
    n = sum(base[k].numel() for k in shapes)
    for name, ts in times.items():
        print(f"{name:>6}: {statistics.median(ts):.3f} s per checkpoint ({n / 1e6:.1f}M packed parameters, "
              f"median of {a.reps}; all {', '.join(f'{t:.3f}' for t in ts)})")
    t = time.perf_counter()
    ck.load(a.path)
    print(f"checkpoints.load (now, base checked): {time.perf_counter() - t:.3f} s")


if __name__ == "__main__":
    main()
