"""Glue between Snakemake ``script:`` files and the library: logging, threads, errors, provenance."""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from pathlib import Path

from . import BertscapeError
from .io import read_json, write_json
from .oserrors import describe
from .provenance import record, sidecar_path


class Job:
    """What a script needs from its ``snakemake`` object, plus a provenance record of this run."""

    def __init__(self, smk):
        self.smk = smk
        self.input, self.output, self.params, self.wildcards = smk.input, smk.output, smk.params, smk.wildcards
        self.threads = int(smk.threads)
        self.started = time.time()
        self.log = logging.getLogger(f"bertscape.{smk.rule}")

    def provenance(self, **extra) -> dict:
        inputs = {k: [str(p) for p in (v if isinstance(v, list) else [v])] for k, v in self.input.items()}
        params = {k: v for k, v in self.params.items()}
        code = read_json(self.input.code) if "code" in self.input.keys() else None  # the rule's code identity
        return record(self.smk.rule, dict(self.wildcards.items()), params, inputs, self.started,
                      seed=params.get("seed"), code_identity=code, **extra)

    def sidecar(self, path, **extra) -> None:
        write_json(sidecar_path(path), self.provenance(**extra))

    def location(self, *keys: str):
        """A configured location (a directory or file: ``resources_dir``, ``data.glue_dir``, a custom task's
        ``path``), None when unset. Locations are read here, in one place, and never passed as params: the
        inputs identify what is there by content, so moving a directory reruns nothing."""
        v = self.smk.config
        for k in keys:
            v = v.get(k) if isinstance(v, dict) else None
        return v

    def model(self) -> dict:
        """The model of ``params.model`` (name, revision) and where it is cached: the keyword arguments of
        :func:`bertscape.modeling.resolve_model_dir`."""
        return {"name": self.params.model["name"], "revision": self.params.model["revision"],
                "cache_dir": self.location("resources_dir")}


def run(smk, main) -> None:
    """Run ``main(job)`` with the log redirected to the rule's log file; BertscapeError or OSError (a full disk,
    a quota, a permission, a stale NFS handle) -> one line, exit 1."""
    log_path = smk.log[0] if smk.log else None
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        fh = open(log_path, "a", buffering=1)
        sys.stdout = sys.stderr = fh  # tqdm progress bars and prints land in the job log
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr, force=True)
    threads = max(1, int(smk.threads))
    if "torch" in sys.modules:  # scripts import their torch-using modules first; plotting jobs never load it
        sys.modules["torch"].set_num_threads(threads)
    else:  # read by torch when a later import loads it
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        main(Job(smk))
    except (BertscapeError, OSError) as e:
        line = describe(e) if isinstance(e, OSError) else str(e)
        print(f"bertscape error: {line}", file=sys.__stderr__)
        print(f"bertscape error: {line}", file=sys.stderr)
        sys.exit(1)
    except Exception:
        traceback.print_exc(file=sys.stderr)
        raise
