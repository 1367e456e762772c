"""Time limits and preemption: SIGTERM / SIGUSR1 only set a flag, which long loops check at safe points.

SLURM sends SIGTERM at a job's time limit and on preemption (``--signal=TERM@S`` sends it S seconds
early), then SIGKILL after the cluster's ``KillWait``. Inside :func:`watch` the signal does not kill the
process: a loop calls :func:`check` at each safe point (after an optimiser step, after a surface node),
and :func:`check` raises :class:`Preempted` once the loop has written its resume state. Outside
:func:`watch` the signals keep their usual effect.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from . import BertscapeError

SIGNALS = (signal.SIGTERM, signal.SIGUSR1)
_received: list[int] = []


class Preempted(BertscapeError):
    """The job was asked to stop and saved what it needs to resume: a rerun continues where it stopped."""


def _handler(signum, frame) -> None:
    _received.append(signum)


def requested() -> bool:
    """A stop signal arrived inside :func:`watch`."""
    return bool(_received)


@contextmanager
def watch() -> Iterator[None]:
    """Turn SIGTERM and SIGUSR1 into a flag for the duration (main thread only: elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _received.clear()
    old = {s: signal.signal(s, _handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        _received.clear()


def check(save: Callable[[], str]) -> None:
    """At a safe point: when a stop was requested, ``save()`` the resume state (it returns where it
    wrote it) and raise :class:`Preempted`, naming the signal and that place."""
    if not _received:
        return
    where = save()
    name = signal.Signals(_received[0]).name
    raise Preempted(f"{name} received: stopped at a safe point, resume state in {where}; rerun to continue")
