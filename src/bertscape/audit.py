"""Lineage of an artifact from its provenance records, and verification of every recorded hash."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from . import BertscapeError
from .provenance import sha256_path, sidecar_path


def read_record(path: str | Path) -> dict | None:
    """The provenance record stored in or beside an artifact (None for sources and code)."""
    p = Path(path)
    if p.is_dir():
        files = sorted(p.glob("*.safetensors"))
        return read_record(files[0]) if files else None
    side = sidecar_path(p)
    if side.is_file():
        return json.loads(side.read_text())
    try:
        if p.suffix == ".h5":
            import h5py

            with h5py.File(p, "r", locking=False) as f:
                raw = f.attrs.get("provenance")
        elif p.suffix == ".safetensors":
            from .io import tensors_metadata

            raw = tensors_metadata(p).get("provenance")
        elif p.suffix == ".png":
            from PIL import Image

            with Image.open(p) as im:
                raw = im.text.get("bertscape:provenance")
        elif p.suffix == ".json":
            doc = json.loads(p.read_text())
            return doc.get("provenance") if isinstance(doc, dict) and isinstance(doc.get("provenance"), dict) else None
        elif p.suffix == ".pdf":
            import re

            m = re.search(rb"/Subject \((.*?)\)\s*/", p.read_bytes(), re.S)
            raw = m.group(1).decode("latin-1").replace("\\(", "(").replace("\\)", ")").replace("\\\\", "\\") if m else None
        else:
            raw = None
    except (OSError, ValueError, KeyError, BertscapeError):  # unreadable or damaged: its parent's hash check flags it
        return None
    if raw is None:
        return None
    return json.loads(raw.decode() if isinstance(raw, bytes) else raw)


def lineage(path: str | Path, _seen: set | None = None) -> dict:
    """{path, rule, wildcards, record, inputs: [lineage...]} down to sources (no record)."""
    seen = _seen if _seen is not None else set()
    rec = read_record(path)
    node = {"path": str(path), "rule": rec.get("rule") if rec else None,
            "wildcards": rec.get("wildcards") if rec else None, "record": rec, "inputs": []}
    if rec is None or str(path) in seen:
        return node
    seen.add(str(path))
    for name, files in rec.get("inputs", {}).items():
        if name == "code":
            continue
        for p in files:
            node["inputs"].append({**lineage(p, seen), "role": name})
    return node


def nodes(paths: list[str | Path]) -> Iterator[dict]:
    """Every artifact along the lineages of ``paths``, each once (depth first, an artifact before its inputs)."""
    seen: set = set()
    done: set = set()

    def walk(node):
        if node["path"] in done:
            return
        done.add(node["path"])
        yield node
        for child in node["inputs"]:
            yield from walk(child)

    for p in paths:
        yield from walk(lineage(p, seen))


def verify(path: str | Path) -> list[str]:
    """Every artifact along the lineage whose recorded input hashes no longer match (empty = all good)."""
    problems: list[str] = []
    for node in nodes([path]):
        for files in (node["record"] or {}).get("inputs", {}).values():
            for p, recorded in files.items():
                if not Path(p).exists():
                    problems.append(f"{node['path']}: input {p} is missing")
                elif sha256_path(p, cached=False) != recorded:
                    problems.append(f"{node['path']}: input {p} changed since it was made (stale or tampered)")
    return sorted(set(problems))


def short(h: str) -> str:
    """The first 12 hex digits of a sha256: what a person compares by eye."""
    return h[:12]


def combined_hash(hashes: dict[str, str]) -> str:
    """One sha256 for a set of files ({relative name: sha256}, as recorded for a directory or a model):
    the sha256 of its sorted ``name  sha256`` lines (a single file, name '', is its own hash)."""
    if list(hashes) == [""]:
        return hashes[""]
    return hashlib.sha256("".join(f"{k}  {v}\n" for k, v in sorted(hashes.items())).encode()).hexdigest()


def source_identity(kind: str, ident: dict) -> tuple[str, str, str]:
    """(label, sha256, what the hash covers) for a recorded source: a model is name@revision (hub) or
    package@version, hashed over its weight/config files; data is its source, hashed over the GLUE files
    it read (glue_dir) or over its recorded identity (synthetic generator settings, hub dataset + revision)."""
    if kind == "model":
        k = ident.get("kind")
        if k == "package":
            label = f"{ident.get('package')}@{ident.get('version')}"
        elif k == "hub":
            label = f"{ident.get('repo')}@{ident.get('commit') or ident.get('revision') or 'main'}"
        else:
            label = f"{ident.get('path') or ident.get('name')} (local directory)"
        files = ident.get("files") or {}
        return label, combined_hash(files) if files else _json_hash(ident), f"{len(files)} weight/config files"
    if kind == "data":
        src = ident.get("source", "?")
        detail = {"synthetic": lambda: f"synthetic_train={ident.get('synthetic_train')} "
                                       f"synthetic_dev={ident.get('synthetic_dev')} seed={ident.get('seed')}",
                  "glue_dir": lambda: str(ident.get("glue_dir")),
                  "hub": lambda: f"{ident.get('hub_dataset')}@{ident.get('hub_revision') or 'main'}"}.get(src, lambda: "")()
        caps = " ".join(f"{k}={ident[k]}" for k in ("max_train", "max_dev") if ident.get(k) is not None)
        label = " ".join(x for x in (src, detail, caps) if x)
        files = ident.get("files") or {}
        return label, combined_hash(files) if files else _json_hash(ident), \
            f"{len(files)} files" if files else "recorded identity"
    return kind, _json_hash(ident), "recorded identity"


def _json_hash(doc) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def _label(rec: dict | None) -> str:
    if not rec:
        return "source"
    wc = " ".join(f"{k}={v}" for k, v in sorted((rec.get("wildcards") or {}).items()))
    return f"{rec.get('rule')}{' ' + wc if wc else ''}"


def render(paths: list[str | Path], depth: int | None = None) -> str:
    """The lineage of ``paths`` as a tree a person can read: every artifact once, numbered ``[n]``, one
    line each with its role (the rule's input name), rule, wildcards and short sha256; a later reference
    reads ``-> see [n]``. Paths are shown relative to the directory they share (printed first). Model
    files are not listed under every node: a node says which source it read, and ``sources:`` at the end
    gives each model and data source once with one hash. ``depth`` limits the tree (the root is depth 0);
    what is cut is counted."""
    trees = [(Path(p), lineage(p)) for p in paths]
    shown: list[str] = []

    def collect(node):
        shown.append(node["path"])
        for c in node["inputs"]:
            if c.get("role") != "model":
                collect(c)

    for _, t in trees:
        collect(t)
    base = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in shown])
    rel = (lambda p: os.path.relpath(os.path.abspath(p), base)) if base not in ("", os.sep) else str
    lines: list[str] = [f"under {base}{os.sep}:"] if rel is not str else []
    number: dict[str, int] = {}
    found: dict[tuple[str, str], tuple[str, str, str]] = {}  # (kind, label) -> (label, sha, covers)

    def note_sources(rec):
        names = []
        for kind, ident in sorted((rec or {}).get("sources", {}).items()):
            if isinstance(ident, dict):
                glue = rec.get("inputs", {}).get("glue")
                if kind == "data" and glue:
                    ident = {**ident, "files": {Path(p).name: combined_hash(h) for p, h in glue.items()}}
                label, sha, covers = source_identity(kind, ident)
                found.setdefault((kind, label), (label, sha, covers))
                names.append(f"{kind} {label}")
        return names

    def count_below(node, seen):
        n = 0
        for child in node["inputs"]:
            if child["path"] not in seen and child.get("role") != "model":
                seen.add(child["path"])
                n += 1 + count_below(child, seen)
        return n

    def walk(node, sha, level, role):
        indent = "  " * level + (f"{role}: " if role else "")
        path = node["path"]
        if path in number:
            lines.append(f"{indent}{rel(path)}  -> see [{number[path]}]")
            return
        number[path] = len(number) + 1
        rec = node["record"]
        line = f"{indent}[{number[path]}] {rel(path)}  [{_label(rec)}]  sha256 {short(sha) if sha else '?'}"
        srcs = note_sources(rec)
        n_model = sum(c.get("role") == "model" for c in node["inputs"])
        if srcs:
            line += "  reads " + "; ".join(srcs)
        elif n_model:
            line += f"  reads the model ({n_model} files, see sources)"
        lines.append(line)
        if depth is not None and level >= depth:
            below = count_below(node, set(number))
            if below:
                lines.append(f"{'  ' * (level + 1)}... {below} more artifact(s) below (--depth {level + 1} or more shows them)")
            return
        recorded = (rec or {}).get("inputs", {})
        for child in node["inputs"]:
            if child.get("role") != "model":
                hashes = recorded.get(child.get("role"), {}).get(child["path"])
                walk(child, combined_hash(hashes) if hashes else None, level + 1, child.get("role"))

    for p, tree in trees:
        walk(tree, combined_hash(sha256_path(p)) if p.exists() else None, 0, "")
    if found:
        lines.append("sources:")
        for kind, label in sorted(found):
            lbl, sha, covers = found[(kind, label)]
            lines.append(f"  {kind}: {lbl}  sha256 {short(sha)} ({covers})")
    return "\n".join(lines)


def sources(paths: list[str | Path]) -> dict[str, dict]:
    """Every source identity (dataset, model) recorded along the lineages of ``paths``, keyed by
    ``rule {wildcards}``: where the numbers ultimately came from."""
    out: dict[str, dict] = {}
    for node in nodes(paths):
        rec = node["record"]
        if rec and rec.get("sources"):
            out[f"{rec['rule']} {json.dumps(rec.get('wildcards') or {}, sort_keys=True)}"] = rec["sources"]
    return dict(sorted(out.items()))


def prov_document(paths: list[str | Path]) -> dict:
    """W3C PROV-JSON for the lineages of ``paths``: artifacts are entities (with their recorded sha256),
    rule runs are activities (times, host, params hash, SLURM job id), the bertscape version is the agent."""
    doc = {"prefix": {"bs": "urn:bertscape:", "file": "file:"}, "entity": {}, "activity": {}, "agent": {},
           "wasGeneratedBy": {}, "used": {}, "wasAssociatedWith": {}}

    def ent(path: str, hashes: dict | None = None) -> str:
        key = f"file:{path}"
        e = doc["entity"].setdefault(key, {"prov:label": path})
        if hashes:
            e["bs:sha256"] = hashes[""] if list(hashes) == [""] else hashes
        return key

    for node in nodes(paths):  # a shared input (theta0, data) is described once
        rec = node["record"]
        if not rec:
            ent(node["path"])
            continue
        act = f"bs:{rec['rule']}/" + ",".join(f"{k}={v}" for k, v in sorted((rec.get("wildcards") or {}).items()))
        first = act not in doc["activity"]
        doc["activity"][act] = {"prov:startTime": rec.get("started"), "prov:endTime": rec.get("finished"),
                                "bs:params_sha256": rec.get("params_sha256"), "bs:host": rec.get("host"),
                                "bs:slurm_job_id": rec.get("slurm_job_id")}
        code = rec.get("code") or {}
        agent = f"bs:bertscape-{code.get('version')}@{code.get('git_commit')}" + ("+dirty" if code.get("git_dirty") else "")
        doc["agent"][agent] = {"prov:type": "prov:SoftwareAgent", **{f"bs:{k}": v for k, v in (rec.get("environment") or {}).items()}}
        if first:
            doc["wasAssociatedWith"][f"_:a{len(doc['wasAssociatedWith'])}"] = {"prov:activity": act, "prov:agent": agent}
        doc["wasGeneratedBy"][f"_:g{len(doc['wasGeneratedBy'])}"] = {"prov:entity": ent(node["path"]), "prov:activity": act}
        for role, files in (rec.get("inputs", {}) if first else {}).items():
            for p, hashes in files.items():
                doc["used"][f"_:u{len(doc['used'])}"] = {"prov:activity": act, "prov:entity": ent(p, hashes), "prov:role": role}
    return doc
