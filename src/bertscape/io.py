"""Atomic file writes and pickle-free tensor storage (safetensors, JSON lines)."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from . import BertscapeError
from .oserrors import from_message

if TYPE_CHECKING:  # torch is imported where tensors are read or written, so light jobs (gathers, figures) skip it
    import torch


def umask() -> int:
    """The process's umask, read without changing it where Linux allows (/proc), else by setting it back."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode ``open()`` gives a new file: 0o666 less the umask (mkstemp's files are 0o600 whatever it is)."""
    return 0o666 & ~umask()


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only on success, with the mode the
    umask gives a new file. An OSError that names no file is given ``path``'s name."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        yield Path(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and e.filename is None:
            e.filename = str(path)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: str | os.PathLike):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:  # (JSONDecodeError and UnicodeDecodeError are ValueErrors)
        raise BertscapeError(f"{path}: cannot read JSON ({e})") from None


def write_jsonl(path: str | os.PathLike, rows: list[dict]) -> None:
    write_text(path, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows))


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    rows = []
    for lineno, line in enumerate(_text_lines(path), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise BertscapeError(f"{path}:{lineno}: malformed JSON line ({e.msg})") from None
    return rows


def _text_lines(path: str | os.PathLike) -> list[str]:
    """The lines of a UTF-8 text file this package wrote (each ends in a newline). Bytes that are not UTF-8,
    or a last line without its newline, are a damaged or truncated file: one error naming the line."""
    raw = Path(path).read_bytes()
    try:
        lines = raw.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise BertscapeError(f"{path}:{line}: not UTF-8 text (damaged file?)") from None
    if lines and not lines[-1].endswith("\n"):
        raise BertscapeError(f"{path}:{len(lines)}: last line cut short (truncated file?)")
    return lines


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict | None = None) -> None:
    """Save tensors atomically as safetensors; metadata values are JSON-encoded strings."""
    from safetensors.torch import save_file

    meta = {k: v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str) for k, v in (metadata or {}).items()}
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    from safetensors import SafetensorError

    with atomic_path(path) as tmp:
        try:
            save_file(tensors, str(tmp), metadata=meta)
        except SafetensorError as e:  # a full disk arrives as "... (os error 28)" in its text
            raise from_message(str(e), path) or e from None
        _sort_metadata(tmp)


def _sort_metadata(path: Path) -> None:
    """Rewrite a safetensors header with its metadata in key order, in place and at the same length:
    safetensors writes the metadata in hash order, which differs between saves of the same content."""
    with open(path, "r+b") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n), object_pairs_hook=dict)
        if "__metadata__" not in header:
            return
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        out = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
        if len(out) <= n:  # (serde_json and json agree on the escapes: the same bytes, reordered)
            f.seek(8)
            f.write(out.ljust(n, b" "))


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
    lines = _text_lines(path)
    header = lines[0].rstrip("\n").split("\t") if lines else []
    rows = []
    for lineno, line in enumerate(lines[1:], 2):
        fields = line.rstrip("\n").split("\t")
        if len(fields) != len(header):
            raise BertscapeError(f"{path}:{lineno}: expected {len(header)} fields, got {len(fields)}")
        rows.append({h: conv(v) for h, v in zip(header, fields)})
    return rows
