"""A training run's checkpoint store: the resume folder while the run goes, the published files when it ends.

Exact resume: the resume state (weights + AdamW moments + losses so far) is written after each epoch to a
folder that Snakemake does not own, so a killed job restarts from its last finished epoch.

Resume folder: ``state.json`` (the commit point), ``epoch0.safetensors``, the fp32 weights and
``optim{E}.safetensors`` (AdamW moments) of the last finished epoch E only, and the stored form
of every finished intermediate epoch (see :mod:`bertscape.checkpoints`). When training ends, the
intermediate epochs are reduced to what the trajectory needs (``displacements``), theta0 and the
last epoch are published (theta0 as its head plus a reference to the init's shared encoder when
``theta0_base`` is given), the intermediate epochs too when ``keep_intermediate``, and the folder
is removed: the optimiser state exists only while the run can still resume.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
from pathlib import Path

import torch

from . import checkpoints as ck
from . import stepstate
from .io import load_tensors, read_json, save_tensors, write_json


class CheckpointStore:
    """Where a run's epochs go. ``paths[e]`` receives the weights after epoch e (e = 0 is theta0; None: not
    published).

    ``storage`` (see :mod:`bertscape.checkpoints`): ``fp32`` publishes every epoch in fp32; ``fp16_delta``
    publishes the epochs strictly between the first and the last as fp16 deltas from ``delta_base``
    (default: this run's theta0) next to paths[e], named ``epoch{E}.delta.safetensors``.
    ``keep_intermediate=False`` publishes only the first and last epoch. ``theta0_base``: the init's shared
    encoder file (fp32), from which epoch 0 is published in the shared-base format
    (:func:`bertscape.checkpoints.save_shared`). ``displacements``: a list that receives, before anything is
    published, :func:`bertscape.checkpoints.displacement_rows` of every epoch after the first (the long run,
    ``delta_base`` given: delta1 is its start minus ``delta_base``, the trajectory's own delta1).
    ``last``: how the last epoch is published: ``fp32`` (a plain file) or ``fp32_packed`` (lossless, packed against
    ``theta0_base``: :func:`bertscape.checkpoints.save_packed`; plain where there is no ``theta0_base``).
    ``identity`` names the inputs (e.g. their hashes): resume state is reused only when both it and the
    training spec match. ``metadata`` goes into every stored epoch.
    """

    def __init__(self, paths: list[str | None], resume_dir: str | os.PathLike, metadata: dict | None = None,
                 identity: str = "", storage: str = "fp32", delta_base: str | os.PathLike | None = None,
                 keep_intermediate: bool = True, theta0_base: str | os.PathLike | None = None,
                 displacements: list | None = None, last: str = "fp32"):
        if storage not in ck.FORMATS:
            raise ValueError(f"storage must be one of {ck.FORMATS}, not {storage!r}")
        if last not in ck.LAST_FORMATS:
            raise ValueError(f"last must be one of {ck.LAST_FORMATS}, not {last!r}")
        self.last = last
        self.paths, self.resume, self.meta = list(paths), Path(resume_dir), dict(metadata or {})
        self.identity, self.storage, self.delta_base = identity, storage, delta_base
        self.keep_intermediate, self.theta0_base, self.displacements = keep_intermediate, theta0_base, displacements
        self.state: dict = {}
        self.epochs = len(self.paths) - 1

    def open(self, spec_key: str, epochs: int) -> dict:
        """The run's state: ``{"epoch": last finished epoch (-1: none), "steps": [...], "epochs": [...]}``,
        resumed when the folder holds this run's (same spec key, identity and storage) and all it needs."""
        key = f"{spec_key}-{hashlib.sha256(f'{self.identity}|{self.storage}'.encode()).hexdigest()[:16]}"
        assert len(self.paths) == epochs + 1
        state_file = self.resume / "state.json"
        if state_file.exists() and not _resumable(self.resume, read_json(state_file), key, epochs, self.storage):
            shutil.rmtree(self.resume)  # a different run (or an unusable state) lived here: never resume from it
        self.resume.mkdir(parents=True, exist_ok=True)
        self.state = read_json(state_file) if state_file.exists() else {"key": key, "epoch": -1, "steps": [], "epochs": []}
        _drop_stale(self.resume, self.state["epoch"], epochs, self.storage)
        return self.state

    def restore(self, model, opt):
        """Weights (and, after epoch 0, the AdamW moments) of the last finished epoch, when there is one; after a
        stop mid-epoch (``state["mid"]``) those after its last step. Returns that step's RNG state, or None."""
        e = self.state["epoch"]
        if e >= 0:
            model.load_state_dict(load_tensors(self.resume / f"epoch{e}.safetensors"))  # copies onto the device
            if e > 0:
                _load_optim(model, opt, load_tensors(self.resume / f"optim{e}.safetensors"))
        mid, rng = self.state.get("mid"), None
        if mid:
            weights, moments, rng = stepstate.load(self.resume, mid["step"])
            model.load_state_dict(weights)
            _load_optim(model, opt, moments)
        return rng

    def stop_mid(self, model, opt, epoch: int, pos: int, step: int,
                 rng: dict[str, torch.Tensor] | None = None) -> str:
        """(preemption) Commit the state after global step ``step`` (the ``pos``-th of ``epoch``): a rerun resumes
        there. ``rng``: the run's own generator states (default: the process's global ones)."""
        stepstate.save(self.resume, step, model.state_dict(), _optim_tensors(model, opt), rng)
        self.state["mid"] = {"epoch": epoch, "pos": pos, "step": step}
        write_json(self.resume / "state.json", self.state)
        stepstate.drop(self.resume, keep=step)
        return f"{self.resume} (after step {pos} of epoch {epoch})"

    def commit(self, epoch: int, model, opt) -> None:
        """Store finished epoch ``epoch`` (its record already in ``state``) and make it the resume point."""
        weights = model.state_dict()
        save_tensors(self.resume / f"epoch{epoch}.safetensors", weights, {**self.meta, "epoch": epoch})
        if 0 < epoch < self.epochs:  # the moments are needed only to continue: none after the last epoch
            save_tensors(self.resume / f"optim{epoch}.safetensors", _optim_tensors(model, opt))
            if self.storage == "fp16_delta":
                base = Path(self.delta_base) if self.delta_base is not None else self.resume / "epoch0.safetensors"
                published = Path(next(p for p in reversed(self.paths) if p is not None)).parent  # (the folder)
                ref = Path(self.paths[0]) if self.delta_base is None else base  # the published copy of theta0
                ck.save_delta(ck.delta_path(self.resume, epoch), {k: v.cpu() for k, v in weights.items()}, base, ref,
                              published, {**self.meta, "epoch": epoch})
        self.state["epoch"] = epoch
        self.state.pop("mid", None)
        write_json(self.resume / "state.json", self.state)
        _drop_stale(self.resume, epoch, self.epochs, self.storage)
        stepstate.drop(self.resume)

    def publish(self) -> None:
        """The finished run: displacement rows, then the published checkpoints; the resume folder is removed."""
        resume, epochs = self.resume, self.epochs
        last = resume / f"epoch{epochs}.safetensors"

        @functools.cache
        def last_state() -> dict:  # read once for the displacement rows and the packed file
            return load_tensors(last)

        if self.displacements is not None:
            long = self.delta_base is not None  # its epoch 0 (the start) is the last row of the run it continues
            origin = Path(self.delta_base) if long else resume / "epoch0.safetensors"
            self.displacements[:] = ck.displacement_rows(resume, list(range(int(long), epochs + 1)), origin,
                                                         last_state(), epochs,
                                                         ck.load(resume / "epoch0.safetensors") if long else None)
        for epoch, path in enumerate(self.paths):
            if path is None or (0 < epoch < epochs and not self.keep_intermediate):
                continue
            if self.storage == "fp16_delta" and 0 < epoch < epochs:
                _publish(ck.delta_path(resume, epoch), ck.delta_path(Path(path).parent, _epoch_number(path)))
            elif epoch == 0 and self.theta0_base is not None and not (self.keep_intermediate
                                                                      and self.storage == "fp16_delta"):
                # (published deltas name the published theta0's bytes as their base: then it stays a plain file)
                ck.save_shared(path, load_tensors(resume / "epoch0.safetensors"), self.theta0_base, self.theta0_base,
                               Path(path).parent, {**self.meta, "epoch": 0})
            elif epoch == epochs and self.last == "fp32_packed" and self.theta0_base is not None:
                ck.save_packed(path, last_state(), self.theta0_base, self.theta0_base, Path(path).parent,
                               {**self.meta, "epoch": epoch})
            else:
                _publish(resume / f"epoch{epoch}.safetensors", Path(path))
        shutil.rmtree(resume)  # published: nothing left to resume, and the optimiser state goes with it


def _optim_tensors(model, opt) -> dict[str, torch.Tensor]:
    names = {id(p): n for n, p in model.named_parameters()}
    out = {}
    for p, st in opt.state.items():
        for k, v in st.items():
            out[f"{k}.{names[id(p)]}"] = torch.as_tensor(v).clone()
    return out


def _load_optim(model, opt, tensors: dict[str, torch.Tensor]) -> None:
    for n, p in model.named_parameters():
        if f"exp_avg.{n}" in tensors:
            opt.state[p] = {k: tensors[f"{k}.{n}"].clone().to(p.device)  # fused AdamW keeps step on the device
                            for k in ("step", "exp_avg", "exp_avg_sq")}


def _epoch_number(path) -> int:
    return int(Path(path).name.split(".")[0][len("epoch"):])


def _resumable(resume: Path, state: dict, key: str, epochs: int, storage: str) -> bool:
    """The state belongs to this run and every file it needs to continue is there."""
    e = state.get("epoch", -1)
    need = [resume / f"epoch{x}.safetensors" for x in {0, max(e, 0)}] if e >= 0 else []
    if 0 < e < epochs:
        need.append(resume / f"optim{e}.safetensors")
    need += [ck.delta_path(resume, x) if storage == "fp16_delta" else resume / f"epoch{x}.safetensors"
             for x in range(1, min(e + 1, epochs))]
    if state.get("mid"):
        need.append(stepstate.path(resume, state["mid"]["step"]))
    return state.get("key") == key and all(p.is_file() for p in need)


def _drop_stale(resume: Path, epoch: int, epochs: int, storage: str) -> None:
    """After epoch ``epoch`` is committed: older optimiser states, and (fp16_delta) older fp32 intermediates."""
    for p in resume.glob("optim*.safetensors"):
        if p.name != f"optim{epoch}.safetensors":
            p.unlink()
    if storage == "fp16_delta":
        for p in resume.glob("epoch*.safetensors"):
            e = p.name[len("epoch"):-len(".safetensors")]
            if e.isdigit() and 0 < int(e) < epoch:
                p.unlink()


def _publish(src: Path, dst: Path) -> None:
    """Hard-link (or copy) a finished checkpoint to its output path atomically."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
