"""Control runs (config ``controls``): a run that starts where one init starts (its theta0) and trains on the other
init's schedule (learning rate and epochs, hence steps: the batch size is the task's), so a finetune-vs-scratch
contrast can be read again with the schedule held equal.

* ``scratch_matched``: the seed's scratch theta0 (encoder and head) trained at the fine-tuning ``lr`` for
  ``epochs_finetune`` epochs; compared as finetune vs scratch_matched.
* ``finetune_matched``: the shared pre-trained theta0 trained at ``scratch_lr`` for ``epochs_scratch`` epochs;
  compared as finetune_matched vs scratch.

A control is one more value of the runs' ``init`` (``seed{s}/train/{task}/{control}/...``) and goes through every
per-run stage the two main inits do; its claim rows are the main comparison's measures named ``{measure}@{control}``
(:func:`measure_name`), decided over seeds beside the main rows and never part of a claim's headline.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Control:
    """``theta0``: the init whose starting point it shares; ``schedule``: the init whose lr and epochs it trains
    with; ``pair``: (the run in the fine-tune role, the run in the scratch role) of its comparison."""

    name: str
    theta0: str
    schedule: str
    pair: tuple[str, str]


CONTROLS: dict[str, Control] = {
    "scratch_matched": Control("scratch_matched", "scratch", "finetune", ("finetune", "scratch_matched")),
    "finetune_matched": Control("finetune_matched", "finetune", "scratch", ("finetune_matched", "scratch")),
}
SEP = "@"  # measure name @ control


def theta0_init(init: str) -> str:
    """The init whose theta0 a run starts from: a control's, or the run's own (finetune, scratch, long)."""
    return CONTROLS[init].theta0 if init in CONTROLS else init


def schedule_init(init: str) -> str:
    """The init whose learning rate and epochs a run trains with."""
    return CONTROLS[init].schedule if init in CONTROLS else init


def measure_name(measure: str, control: str) -> str:
    return f"{measure}{SEP}{control}"


def split_measure(measure: str) -> tuple[str, str | None]:
    """(the registry's measure, the control or None) of a claim row's measure name."""
    base, sep, control = measure.partition(SEP)
    return (base, control) if sep and control in CONTROLS else (measure, None)


def present(keys) -> list[str]:
    """The controls among the inits of (task, init) keys, in CONTROLS' order."""
    inits = {k[1] for k in keys if isinstance(k, tuple)}
    return [c for c in CONTROLS if c in inits]


def as_pair(d: dict, control: str) -> dict:
    """{(task, init): x} -> {(task, "finetune"|"scratch"): x} of the control's comparison (the roles the claim
    functions read), dropping every other run."""
    role = dict(zip(CONTROLS[control].pair, ("finetune", "scratch")))
    return {(k[0], role[k[1]]): v for k, v in d.items() if isinstance(k, tuple) and k[1] in role}


def tag(rows: list[dict], control: str) -> list[dict]:
    """A comparison's rows as the control's: measure renamed, the pair named in ``comparison`` and the criterion."""
    ft, sc = CONTROLS[control].pair
    return [{**r, "measure": measure_name(r["measure"], control), "comparison": f"{ft} vs {sc}",
             "criterion": f"[{ft} vs {sc}] {r['criterion']}"} for r in rows]

