"""Atomic file writes and pickle-free tensor storage (safetensors, JSON lines)."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from . import BertscapeError

if TYPE_CHECKING:  # torch is imported where tensors are read or written, so light jobs (gathers, figures) skip it
    import torch


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: str | os.PathLike):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise BertscapeError(f"{path}: cannot read JSON ({e})") from None


def write_jsonl(path: str | os.PathLike, rows: list[dict]) -> None:
    write_text(path, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows))


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise BertscapeError(f"{path}:{lineno}: malformed JSON line ({e.msg})") from None
    return rows


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict | None = None) -> None:
    """Save tensors atomically as safetensors; metadata values are JSON-encoded strings."""
    from safetensors.torch import save_file

    meta = {k: v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str) for k, v in (metadata or {}).items()}
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def load_tensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise BertscapeError(f"{path}: not a readable safetensors file ({e})") from None


def tensors_metadata(path: str | os.PathLike) -> dict[str, str]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:  # metadata only: light jobs need no torch
            return dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as e:
        raise BertscapeError(f"{path}: not a readable safetensors file ({e})") from None


def write_tsv(path: str | os.PathLike, rows: list[dict], columns: list[str] | None = None) -> None:
    columns = columns or list(rows[0])
    fmt = lambda v: "" if v is None else (repr(v) if isinstance(v, float) else str(v))
    write_text(path, "\t".join(columns) + "\n" + "".join("\t".join(fmt(r.get(c)) for c in columns) + "\n" for r in rows))


def read_tsv(path: str | os.PathLike) -> list[dict]:
    """Read a TSV written by write_tsv; numeric-looking fields become floats."""
    def conv(v: str):
        try:
            return float(v)
        except ValueError:
            return v
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        rows = []
        for lineno, line in enumerate(f, 2):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != len(header):
                raise BertscapeError(f"{path}:{lineno}: expected {len(header)} fields, got {len(fields)}")
            rows.append({h: conv(v) for h, v in zip(header, fields)})
    return rows
