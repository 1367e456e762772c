"""Provenance records: which rule, params, inputs (sha256), code, environment and machine made an artifact.

The record is stored inside the artifact where the format allows (HDF5 attribute
``provenance``, safetensors metadata ``provenance``, PNG text chunk / PDF Subject) and as a
sidecar ``<file>.prov.json`` otherwise. It is the only place a timestamp may appear.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import subprocess
import time
from functools import lru_cache
from pathlib import Path

from . import __version__

REPO = Path(__file__).resolve().parents[2]
SIDECAR = ".prov.json"


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 22, cached: bool = True) -> str:
    """sha256 of a file. With ``cached``, a hash recorded in ``.<name>.sha256`` beside a file of the
    same size and mtime is reused (checkpoints are hashed by many jobs); ``cached=False`` always
    re-reads the bytes (``bertscape audit --verify``)."""
    p = Path(path)
    st = p.stat()
    stamp = f"{st.st_size} {st.st_mtime_ns}"
    cache = p.with_name(f".{p.name}.sha256")
    if cached and cache.is_file():
        saved = cache.read_text().split()
        if len(saved) == 3 and " ".join(saved[:2]) == stamp:
            return saved[2]
    h = hashlib.sha256()
    with open(p, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    digest = h.hexdigest()
    if cached and st.st_size > (1 << 20) and "site-packages" not in p.parts and os.access(p.parent, os.W_OK):
        tmp = cache.with_name(cache.name + f".{os.getpid()}")
        tmp.write_text(f"{stamp} {digest}\n")
        os.replace(tmp, cache)
    return digest


def sha256_path(path: str | os.PathLike, cached: bool = True) -> dict[str, str]:
    """{relative name: sha256} for a file (name '') or every file below a directory."""
    p = Path(path)
    if p.is_dir():
        return {str(f.relative_to(p)): sha256_file(f, cached=cached) for f in sorted(p.rglob("*"))
                if f.is_file() and not f.name.startswith(".")}
    return {"": sha256_file(p, cached=cached)}


def params_hash(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


@lru_cache(maxsize=1)
def code_version() -> dict:
    def git(*args):
        try:
            return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    commit = git("rev-parse", "HEAD")
    return {"package": "bertscape", "version": __version__, "git_commit": commit or None,
            "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")) if commit else None}


@lru_cache(maxsize=1)
def environment() -> dict:
    import importlib.metadata as md

    env = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("torch", "transformers", "datasets", "h5py", "numpy", "safetensors", "snakemake"):
        try:
            env[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            env[pkg] = None
    try:
        import torch

        env["cuda"] = torch.version.cuda
        env["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor() or "cpu"
    except ImportError:
        pass
    return env


def record(rule: str, wildcards: dict, params: dict, inputs: dict[str, list[str]], started: float,
           sources: dict | None = None, seed: int | None = None, code_identity: dict | None = None) -> dict:
    """``code_identity``: the rule's code input (bertscape.codeinputs: the normalised-source sha256 of its script
    and of every library module it can import), recorded under ``code.identity``: what decided a rerun."""
    code = {**code_version(), **({"identity": code_identity} if code_identity else {})}
    return {
        "rule": rule, "wildcards": dict(wildcards), "params": params, "params_sha256": params_hash(params),
        "inputs": {name: {path: sha256_path(path) for path in paths} for name, paths in inputs.items()},
        "code": code, "environment": environment(), "seed": seed, "sources": sources or {},
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": socket.gethostname(), "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
    }


def sidecar_path(path: str | os.PathLike) -> Path:
    return Path(str(path) + SIDECAR)


def content_hash(path: str | os.PathLike) -> str:
    """sha256 of what an artifact says, without its provenance record (the only place timestamps live):
    two runs on identical inputs give the same content hash even though their records differ.
    HDF5: every dataset and attribute but ``provenance``; safetensors: tensor bytes + metadata but
    ``provenance``; PNG: pixels + text chunks but ``bertscape:provenance``; PDF: the bytes with the
    Subject string and the byte offsets (xref) blanked; JSON: the document without its ``provenance`` key; anything else: its bytes."""
    p = Path(path)
    h = hashlib.sha256()
    if p.suffix == ".h5":
        import h5py

        with h5py.File(p, "r", locking=False) as f:
            def visit(name, obj):
                h.update(name.encode())
                if isinstance(obj, h5py.Dataset):
                    v = obj[()]
                    h.update(str(obj.shape).encode() + (repr(v.tolist()).encode() if v.dtype.kind == "O"
                                                         else v.dtype.str.encode() + v.tobytes()))
            f.visititems(visit)
            for k in sorted(f.attrs):
                if k != "provenance":
                    h.update(k.encode() + repr(f.attrs[k]).encode())
    elif p.suffix == ".safetensors":
        raw = p.read_bytes()
        n = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8:8 + n])
        header.get("__metadata__", {}).pop("provenance", None)
        h.update(json.dumps(header, sort_keys=True).encode() + raw[8 + n:])
    elif p.suffix == ".png":
        from PIL import Image

        with Image.open(p) as im:
            h.update(im.mode.encode() + str(im.size).encode() + im.tobytes())
            for k, v in sorted(im.text.items()):
                if k != "bertscape:provenance":
                    h.update(k.encode() + v.encode())
    elif p.suffix == ".pdf":
        import re

        data = re.sub(rb"/Subject \((?:\\.|[^\\)])*\)\s*", b"/Subject () ", p.read_bytes())  # + the line wrap after it
        data = re.sub(rb"\nxref\n.*?(?=trailer)", b"\n", data, flags=re.S)  # offsets move with the Subject's length
        h.update(re.sub(rb"startxref\s+\d+", b"startxref", data))
    elif p.suffix == ".json":
        doc = json.loads(p.read_text())
        if isinstance(doc, dict):
            doc.pop("provenance", None)
        h.update(json.dumps(doc, sort_keys=True).encode())
    else:
        h.update(p.read_bytes())
    return h.hexdigest()
