"""Epoch checkpoints on disk: theta0 and the final theta in fp32, intermediate epochs as fp16 deltas or not at all.

A run's ``checkpoints/`` folder holds ``epoch{E}.safetensors`` for its first and last epoch (fp32).
theta0's file holds only what differs from the init's shared encoder (``init/finetune.safetensors``
or ``init/scratch.safetensors``): the seeded task head, in the *shared-base* format
(:func:`save_shared`; :func:`load` returns the whole fp32 state, bit for bit). Every reader goes
through :func:`load`.

Epochs in between exist while the run trains (in its resume folder) either as fp32 weights
(``train.intermediate_checkpoints: fp32``) or as ``epoch{E}.delta.safetensors`` (``fp16_delta``, the
default): delta = theta_E - base in fp32, each tensor scaled by a power of two so its largest entry
sits just below 2^15, rounded to fp16 (the scaling is exact, the rounding is the only error). The
base is theta0 of the run, or for the long run theta0 of the fine-tuning run it continues, i.e.
always the origin of the trajectory. The metadata records the base (path relative to the delta
file, sha256), each tensor's exponent, and each tensor's squared rounding error ||delta -
decoded||^2 (fp64, measured when the file was written), from which the trajectory bounds its own
error (see :func:`bertscape.trajectory.error_norm`). Before the run publishes, it reduces them to the numbers eqs 3-5
need (:func:`displacement_rows`: <theta_E - theta0, delta1>, ||theta_E - theta0||^2 and the
rounding error, per epoch); they are published only with ``train.keep_intermediate: true``.

The last epoch is fp32, written either as a plain safetensors file (``train.last_checkpoint: fp32``) or, lossless
and about half the bytes, in the *packed* format (``fp32_packed``, :func:`save_packed`): each fp32 tensor that the
init's shared encoder also has is stored as the bitwise XOR of its bits with the encoder's, split into its four
byte planes, the three higher ones zlib-compressed (training moves weights by a small fraction of their size, so the XOR's sign,
exponent and high mantissa bytes are mostly zero); the rest (the head) is stored as it is. :func:`load` gives the
fp32 state back bit for bit; ``bertscape export-checkpoint`` writes any checkpoint as a plain file.
"""

from __future__ import annotations

import json
import math
import os
import zlib
from pathlib import Path

import numpy as np

import torch

from . import BertscapeError
from .io import load_tensors, save_tensors, tensors_metadata

State = dict[str, torch.Tensor]
FORMATS = ("fp16_delta", "fp32")
DELTA_FORMAT = "fp16_delta/v1"
SHARED_FORMAT = "shared_base/v1"
PACKED_FORMAT = "xor_planes_zlib/v1"  # (pack/unpack: byte plane 0 raw, planes 1-3 zlib)
LAST_FORMATS = ("fp32", "fp32_packed")
PACKED_PREFIX = "packed."  # packed tensors' names: a reader that ignores the format finds no weight under its name
DISPLACEMENT_COLUMNS = ["epoch", "dot_delta1", "norm2", "norm2_delta1", "err2"]


def full_path(folder: str | os.PathLike, epoch: int) -> Path:
    return Path(folder) / f"epoch{epoch}.safetensors"


def delta_path(folder: str | os.PathLike, epoch: int) -> Path:
    return Path(folder) / f"epoch{epoch}.delta.safetensors"


def _exponent(x: torch.Tensor) -> int:
    """k such that max|x| * 2^k < 2^15 (fp16's largest finite value is 65504); 0 for an all-zero tensor."""
    m = float(x.abs().max()) if x.numel() else 0.0
    if m == 0.0 or not math.isfinite(m):
        return 0
    return max(-126, min(126, 15 - math.frexp(m)[1]))


def encode_delta(theta: State, base: State) -> tuple[State, dict, dict]:
    """(fp16 tensors, exponents, squared rounding errors) of theta - base; non-float tensors are kept as they are."""
    out, exps, err2 = {}, {}, {}
    for k, v in theta.items():
        if not v.is_floating_point():
            out[k] = v
            continue
        d = v.float() - base[k].float()
        e = _exponent(d)
        q = torch.ldexp(d, torch.tensor(e, dtype=torch.int32)).half()
        out[k], exps[k] = q, e
        err2[k] = float(((d - _decode(q, e)).double() ** 2).sum())
    return out, exps, err2


def _decode(q: torch.Tensor, e: int) -> torch.Tensor:
    return torch.ldexp(q.float(), torch.tensor(-e, dtype=torch.int32))


def save_delta(path: str | os.PathLike, theta: State, base_path: str | os.PathLike, base_ref: str | os.PathLike,
               relative_to: str | os.PathLike, metadata: dict | None = None) -> None:
    """Write theta as a delta from the fp32 checkpoint ``base_path``. ``base_ref`` is where that base will be
    found (the same bytes: e.g. its published copy), recorded relative to ``relative_to``, the folder the delta
    file will be published in."""
    from .provenance import sha256_file

    tensors, exps, err2 = encode_delta(theta, load(base_path))
    ref = os.path.relpath(Path(base_ref).absolute(), Path(relative_to).absolute())
    meta = {**(metadata or {}), "format": DELTA_FORMAT, "base": ref, "base_sha256": sha256_file(base_path),
            "exponents": exps, "err2": err2}
    save_tensors(path, tensors, meta)


def read_delta(path: str | os.PathLike, base_path: str | os.PathLike | None = None) -> tuple[State, dict]:
    """(delta theta_E - base in fp32, metadata with decoded JSON); checks the base is the recorded one."""
    from .provenance import sha256_file

    meta = {k: json.loads(v) if k in ("exponents", "err2") else v for k, v in tensors_metadata(path).items()}
    if meta.get("format") != DELTA_FORMAT:
        raise BertscapeError(f"{path}: not a delta checkpoint (format {meta.get('format')!r})")
    base_path = Path(path).parent / meta["base"] if base_path is None else Path(base_path)
    if not base_path.is_file() or sha256_file(base_path) != meta["base_sha256"]:
        raise BertscapeError(f"{path}: is a delta from {meta['base']} (sha256 {meta['base_sha256'][:12]}), "
                             f"which {base_path} is not")
    q = load_tensors(path)
    exps = meta["exponents"]
    return {k: _decode(v, exps[k]) if k in exps else v.clone() for k, v in q.items()}, meta


def exists(folder: str | os.PathLike, epoch: int) -> bool:
    return full_path(folder, epoch).is_file() or delta_path(folder, epoch).is_file()


def displacement(folder: str | os.PathLike, epoch: int, origin_path: str | os.PathLike, origin: State,
                 keys: list[str]) -> tuple[State, float]:
    """theta_E - origin over ``keys`` (fp32) and the squared error of that difference due to storage (0 for fp32).

    An fp32 checkpoint gives theta_E - origin exactly as :func:`bertscape.directions.difference` does; a delta
    checkpoint must have ``origin_path`` as its base, and its decoded delta is used as is."""
    from .directions import difference

    full = full_path(folder, epoch)
    if full.is_file():
        return difference(load(full), origin, keys), 0.0
    path = delta_path(folder, epoch)
    if not path.is_file():
        raise BertscapeError(f"{folder}: no checkpoint for epoch {epoch} (neither {full.name} nor {path.name})")
    delta, meta = read_delta(path, origin_path)
    missing = [k for k in keys if k not in delta]
    if missing:
        raise BertscapeError(f"{path}: has no parameter {missing[0]}")
    return {k: delta[k] for k in keys}, float(sum(meta["err2"][k] for k in keys))


def directions(run_dir: str | os.PathLike, epoch1: int, other_dir: str | os.PathLike, epoch2: int):
    """(delta1, delta2 rescaled to ||delta1||, stats) from the runs' fp32 checkpoints, computed where they are used
    (eqs 1-2; :func:`bertscape.directions.make_directions`) instead of being stored: delta2 is the other run's
    delta1 times stats' ``scale_delta2`` = ||delta1|| / ||delta2||."""
    return directions_from(load(full_path(run_dir, 0)), load(full_path(run_dir, epoch1)), other_dir, epoch2, epoch1)


def directions_from(theta0: State, theta1: State, other_dir: str | os.PathLike, epoch2: int, epoch1: int):
    """:func:`directions` with this run's theta0 and theta1 (epoch ``epoch1``) already in memory."""
    from .directions import make_directions
    from .modeling import encoder_prefix

    theta0_other, theta2 = load(full_path(other_dir, 0)), load(full_path(other_dir, epoch2))
    d1, d2, stats = make_directions(theta0, theta1, theta0_other, theta2, encoder_prefix(theta0))
    return d1, d2, {**stats, "scale_delta2": stats["norm_delta1"] / stats["norm_delta2_raw"], "epoch_theta1": epoch1,
                    "epoch_theta2": epoch2}


def save_shared(path: str | os.PathLike, theta: State, base_path: str | os.PathLike, base_ref: str | os.PathLike,
                relative_to: str | os.PathLike, metadata: dict | None = None) -> None:
    """Write theta as the tensors that differ (in any bit) from the fp32 file ``base_path``, plus a reference to it.

    ``base_ref``: where that base will be found (the same bytes), recorded relative to ``relative_to``, the folder
    the file will be published in. :func:`load` gives theta back exactly."""
    from .provenance import sha256_file

    base = load_tensors(base_path)
    own = {k: v for k, v in theta.items() if k not in base or base[k].dtype != v.dtype or base[k].shape != v.shape
           or not torch.equal(base[k], v.cpu())}
    shared = sorted(k for k in theta if k not in own)
    ref = os.path.relpath(Path(base_ref).absolute(), Path(relative_to).absolute())
    meta = {**(metadata or {}), "format": SHARED_FORMAT, "base": ref, "base_sha256": sha256_file(base_path),
            "shared": shared}
    save_tensors(path, {k: v.cpu() for k, v in own.items()}, meta)


def _packable(v: torch.Tensor, b: torch.Tensor | None) -> bool:
    return b is not None and v.dtype == torch.float32 and b.dtype == torch.float32 and b.shape == v.shape


def pack(v: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The packed bytes of fp32 ``v`` against ``b`` (same shape): the XOR of their bits as four byte planes, the
    lowest stored as it is (training changes it almost at random: zlib saves 5-15 % of it at twice the time of the
    rest, measured on the tiny config's checkpoints) and the three higher ones zlib-compressed (level 1)."""
    x = v.detach().cpu().contiguous().numpy().view(np.uint32) ^ b.contiguous().numpy().view(np.uint32)
    planes = np.ascontiguousarray(x.reshape(-1).view(np.uint8).reshape(-1, 4).T)
    blob = planes[0].tobytes() + zlib.compress(planes[1:].tobytes(), 1)
    return torch.frombuffer(bytearray(blob), dtype=torch.uint8)


def unpack(blob: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """:func:`pack`'s inverse: the fp32 tensor, bit for bit (``b``: the same base tensor). The planes are written
    straight into the result's bytes and the base XORed in place: one n x 4-byte buffer, not three."""
    raw, n = blob.numpy(), b.numel()
    out = np.empty((n, 4), dtype=np.uint8)
    out[:, 0] = raw[:n]
    out[:, 1:] = np.frombuffer(zlib.decompress(memoryview(raw[n:])), dtype=np.uint8).reshape(3, n).T
    x = torch.from_numpy(out).view(torch.int32).view(b.shape)
    return x.bitwise_xor_(b.contiguous().view(torch.int32)).view(torch.float32)


def save_packed(path: str | os.PathLike, theta: State, base_path: str | os.PathLike, base_ref: str | os.PathLike,
                relative_to: str | os.PathLike, metadata: dict | None = None) -> None:
    """Write theta in the packed format against the fp32 file ``base_path`` (lossless; see the module's text).

    ``base_ref``: where that base will be found (the same bytes), recorded relative to ``relative_to``, the folder
    the file will be published in. :func:`load` gives theta back exactly."""
    from .provenance import sha256_file

    base = load_tensors(base_path)
    tensors, shapes = {}, {}
    for k, v in theta.items():
        if _packable(v, base.get(k)):
            tensors[PACKED_PREFIX + k], shapes[k] = pack(v, base[k]), list(v.shape)
        else:
            tensors[k] = v.detach().cpu()
    ref = os.path.relpath(Path(base_ref).absolute(), Path(relative_to).absolute())
    meta = {**(metadata or {}), "format": PACKED_FORMAT, "base": ref, "base_sha256": sha256_file(base_path),
            "packed": shapes}
    save_tensors(path, tensors, meta)


def packed_names(path: str | os.PathLike) -> list[str]:
    """The names of the tensors a checkpoint file holds packed (none unless it is in the packed format)."""
    meta = tensors_metadata(path)
    return list(json.loads(meta["packed"])) if meta.get("format") == PACKED_FORMAT else []


def _base(path: str | os.PathLike, meta: dict, what: str) -> State:
    from .provenance import sha256_file

    base_path = Path(path).parent / meta["base"]
    if not base_path.is_file() or sha256_file(base_path) != meta["base_sha256"]:
        raise BertscapeError(f"{path}: {what} {meta['base']} (sha256 {meta['base_sha256'][:12]}), "
                             f"which {base_path} is not")
    return load_tensors(base_path)


def load(path: str | os.PathLike) -> State:
    """The full fp32 state of a checkpoint file: plain, shared-base or packed (base checked), bit for bit."""
    meta = tensors_metadata(path)
    fmt = meta.get("format")
    if fmt == SHARED_FORMAT:
        base, shared = _base(path, meta, "shares its encoder with"), json.loads(meta["shared"])
        missing = [k for k in shared if k not in base]
        if missing:
            raise BertscapeError(f"{path}: its base {meta['base']} has no parameter {missing[0]}")
        return {**{k: base[k] for k in shared}, **load_tensors(path)}
    if fmt == PACKED_FORMAT:
        base, shapes, stored = _base(path, meta, "is packed against"), json.loads(meta["packed"]), load_tensors(path)
        bad = [k for k, s in shapes.items() if k not in base or list(base[k].shape) != s]
        if bad:
            raise BertscapeError(f"{path}: its base {meta['base']} has no parameter {bad[0]} of shape {shapes[bad[0]]}")
        out = {k: v for k, v in stored.items() if not k.startswith(PACKED_PREFIX)}
        return {**out, **{k: unpack(stored[PACKED_PREFIX + k], base[k]) for k in shapes}}
    return load_tensors(path)


def displacement_rows(folder: str | os.PathLike, epochs: list[int], origin_path: str | os.PathLike, end: State,
                      end_epoch: int, delta1_end: State | None = None) -> list[dict]:
    """What eqs 3-5 need of each epoch E of a run, over encoder parameters: <theta_E - theta0, delta1>,
    ||theta_E - theta0||^2, ||delta1||^2 and err2, the squared storage error of theta_E - theta0 (0 where exact).

    ``folder`` holds the epochs before ``end_epoch`` (fp32 or fp16 deltas from ``origin_path`` = theta0); ``end``
    is the weights after ``end_epoch`` (exact, in memory). delta1 = end - theta0, or ``delta1_end`` - theta0 when
    given (the long run: its trajectory keeps the delta1 of the fine-tuning run it continues)."""
    from .directions import difference, dot, encoder_keys
    from .modeling import encoder_prefix

    theta0 = load(origin_path)
    keys = encoder_keys(theta0, encoder_prefix(theta0))
    delta1 = difference(end if delta1_end is None else delta1_end, theta0, keys)
    n1 = dot(delta1, delta1)
    rows = []
    for e in epochs:
        d, err2 = ((difference(end, theta0, keys), 0.0) if e == end_epoch
                   else displacement(folder, e, origin_path, theta0, keys))
        rows.append({"epoch": e, "dot_delta1": dot(d, delta1), "norm2": dot(d, d), "norm2_delta1": n1, "err2": err2})
    return rows
