"""Content identities of the workflow's external inputs (the model, GLUE files).

A job that reads the model takes a small identity file as input instead of the model's files:
``{"files": {name: sha256}}``. It is rewritten only when a hash changes, so a reinstall or a
re-download of identical files (new mtimes, same bytes) leaves its mtime alone and reruns nothing,
while one changed byte rewrites it and reruns every job that reads the model. Hashes are cached by
(size, mtime, ctime, inode) in a stat cache beside the identity file, so an unchanged model is hashed
once per install.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .io import write_text

MODEL_SUFFIXES = (".json", ".safetensors", ".txt", ".model")  # weights, vocabulary, configs


def model_files(model_dir: str | os.PathLike) -> list[Path]:
    """The files of a model directory that decide what it computes (its top level; README etc. excluded)."""
    d = Path(model_dir)
    return sorted(p for p in d.iterdir() if p.is_file() and p.suffix in MODEL_SUFFIXES)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def hashes(files: dict[str, Path], stat_cache: Path | None = None) -> dict[str, str]:
    """{name: sha256}; a file whose (size, mtime, ctime, inode) is in ``stat_cache`` is not read again."""
    cache = {}
    if stat_cache is not None and stat_cache.is_file():
        try:
            cache = json.loads(stat_cache.read_text())
        except (OSError, ValueError):
            cache = {}
    out, new_cache = {}, {}
    for name, p in sorted(files.items()):
        st = p.stat()
        # ctime and inode too: a tool that writes bytes and then sets the old mtime back still misses the cache
        key, stamp = str(p.resolve()), [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        hit = cache.get(key)
        digest = hit[-1] if hit and hit[:-1] == stamp else _sha256(p)
        out[name], new_cache[key] = digest, [*stamp, digest]
    if stat_cache is not None and new_cache != cache:
        try:
            write_text(stat_cache, json.dumps(new_cache, sort_keys=True) + "\n")
        except OSError:  # a read-only results dir only costs re-hashing
            pass
    return out


def refresh(path: str | os.PathLike, files: dict[str, Path]) -> bool:
    """Write the identity of ``files`` to ``path`` (atomically) unless it already says exactly that.
    Returns whether the file was (re)written."""
    path = Path(path)
    text = json.dumps({"files": hashes(files, path.with_name(f".{path.name}.stat"))}, indent=2, sort_keys=True) + "\n"
    if path.is_file() and path.read_text() == text:
        return False
    write_text(path, text)
    return True


def refresh_model(path: str | os.PathLike, model_dir: str | os.PathLike) -> bool:
    return refresh(path, {p.name: p for p in model_files(model_dir)})
