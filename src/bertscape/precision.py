"""The precision policy: which arithmetic a landscape or training job uses on the machine it runs on.

``auto`` picks bf16 where the hardware multiplies bf16 natively (a CPU with AMX-BF16 or AVX512-BF16,
a CUDA device of capability >= 8.0) and fp32 elsewhere; fp32 stays the reference. ``tf32`` (CUDA only)
keeps fp32 storage and lets the tensor cores round matmul inputs to 10-bit mantissas. The choice is
resolved when the job runs (on its own node), and recorded next to the result.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import torch

from . import BertscapeError

CHOICES = ("auto", "fp32", "bf16", "tf32", "fp16")
LOW = {"bf16": torch.bfloat16, "fp16": torch.float16}
CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_has_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """Native bf16 matmul on this CPU (the flags Linux reports); False where the file cannot be read."""
    try:
        flags = next((ln for ln in Path(cpuinfo).read_text().splitlines() if ln.startswith("flags")), "")
    except OSError:
        return False
    return any(f in flags.split() for f in CPU_FLAGS)


def native_bf16(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device)[0] >= 8
    return device.type == "cpu" and cpu_has_bf16()


def resolve(dtype: str, device: str | torch.device, key: str = "eval.dtype") -> str:
    """``auto`` -> bf16 or fp32 for this device; other choices checked against it. One-line errors."""
    device = torch.device(device)
    if dtype not in CHOICES:
        raise BertscapeError(f"config key {key}: {dtype!r} is not one of {list(CHOICES)}")
    if dtype == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if dtype == "tf32" and device.type != "cuda":
        raise BertscapeError(f"config key {key}: tf32 needs a CUDA device (this job runs on {device.type})")
    return dtype


@contextmanager
def matmul_mode(dtype: str):
    """tf32 on for the duration (CUDA), restored afterwards; a no-op for the other choices."""
    if dtype != "tf32":
        yield
        return
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old
