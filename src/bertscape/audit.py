"""Lineage of an artifact from its provenance records, and verification of every recorded hash."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

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
    except (OSError, ValueError, KeyError):
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


def render(node: dict, indent: str = "") -> str:
    label = f"{node['path']}" + (f"  [{node['rule']} {node['wildcards']}]" if node["rule"] else "  [source]")
    lines = [indent + label]
    for child in node["inputs"]:
        lines.append(render(child, indent + "  "))
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
