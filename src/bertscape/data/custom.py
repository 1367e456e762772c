"""Custom tasks from the config: csv / tsv / jsonl files in a directory, or any ``datasets`` dataset.

``tasks.<name>``: ``source`` (csv | tsv | jsonl | hub), ``path`` (a directory holding
``<train_split>.<ext>`` and ``<dev_split>.<ext>``) or ``hub_dataset`` / ``hub_config`` /
``hub_revision``, ``train_split`` / ``dev_split`` (default train/dev for files, train/validation
on the hub), the columns ``text_a``, ``text_b`` (optional) and ``label``, and either ``labels: [...]``
or ``regression: true``. Formats: csv is RFC 4180 (quoted fields allowed, header line first);
tsv is GLUE's (tab-separated, header line first, no quoting); jsonl is one JSON object per line.
Every problem is one line naming the file and line (or the config key).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from .. import BertscapeError
from . import TaskSpec, check_rows, custom_spec, make_row

FILE_SOURCES = ("csv", "tsv", "jsonl")


def splits(t: dict) -> dict[str, str]:
    """Project split -> the source's split name (file stem, or hub split)."""
    hub = t["source"] == "hub"
    return {"train": t.get("train_split") or "train", "dev": t.get("dev_split") or ("validation" if hub else "dev")}


def split_file(t: dict, split: str) -> Path:
    return Path(t["path"]) / f"{splits(t)[split]}.{t['source']}"


def _columns(t: dict) -> tuple[str, str | None, str]:
    return t["text_a"], t.get("text_b") or None, t["label"]


def _missing(header, cols, where: str, name: str) -> None:
    missing = [c for c in cols if c is not None and c not in header]
    if missing:
        raise BertscapeError(f"{where}: missing column(s) {', '.join(repr(c) for c in missing)} for {name} "
                             f"(has {list(header)})")


def _read_csv(path: Path, spec: TaskSpec, cols) -> list[dict]:
    rows: list[dict] = []
    try:
        f = open(path, encoding="utf-8-sig", newline="")
    except OSError as e:
        raise BertscapeError(f"{path}: cannot read ({e.strerror})") from None
    with f:
        reader = csv.reader(f)
        try:
            header = next(reader, None)
            if header is None:
                raise BertscapeError(f"{path}: empty file (no header line)")
            _missing(header, cols, f"{path}:1", spec.name)
            idx = [header.index(c) if c is not None else None for c in cols]
            for rec in reader:
                where = f"{path}:{reader.line_num}"
                if not rec:
                    continue
                if len(rec) != len(header):
                    raise BertscapeError(f"{where}: {len(rec)} comma-separated fields, the header has {len(header)}")
                a, b, y = (rec[i] if i is not None else None for i in idx)
                rows.append(make_row(spec, len(rows), a, b, y, where))
        except csv.Error as e:
            raise BertscapeError(f"{path}:{reader.line_num}: malformed CSV ({e})") from None
        except UnicodeDecodeError as e:
            raise BertscapeError(f"{path}: not valid UTF-8 ({e.reason} at byte {e.start})") from None
    return check_rows(rows, str(path))


def _read_jsonl(path: Path, spec: TaskSpec, cols) -> list[dict]:
    rows: list[dict] = []
    try:
        f = open(path, "rb")
    except OSError as e:
        raise BertscapeError(f"{path}: cannot read ({e.strerror})") from None
    with f:
        for lineno, raw in enumerate(f, 1):
            where = f"{path}:{lineno}"
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise BertscapeError(f"{where}: not a JSON object ({e})") from None
            if not isinstance(obj, dict):
                raise BertscapeError(f"{where}: not a JSON object (got {type(obj).__name__})")
            _missing(obj, cols, where, spec.name)
            a, b, y = (obj[c] if c is not None else None for c in cols)
            rows.append(make_row(spec, len(rows), a, b, y, where))
    return check_rows(rows, str(path))


def load_custom(name: str, t: dict, split: str, cache_dir: str | os.PathLike | None = None) -> list[dict]:
    """One split (``train`` or ``dev``) of a custom task in the prepared format."""
    spec = custom_spec(name, t)
    cols = _columns(t)
    if t["source"] == "hub":
        from .glue import load_hub_split

        return load_hub_split(spec, t["hub_dataset"], t.get("hub_config"), splits(t)[split], cols,
                              t.get("hub_revision"), cache_dir)
    path = split_file(t, split)
    if not path.is_file():
        raise BertscapeError(f"{path}: file not found (config key tasks.{name}.path, split {splits(t)[split]!r})")
    if t["source"] == "tsv":
        from .glue import read_tsv

        return read_tsv(path, spec, cols)
    return (_read_csv if t["source"] == "csv" else _read_jsonl)(path, spec, cols)
