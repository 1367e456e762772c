"""train.fused: which runs train together. A group shares what one fused module needs -- the architecture
(one model per config) and the shapes (the head's number of labels) -- and nothing a run of it depends on: the
long run continues a fine-tuning run, so long runs form groups of their own. Runs are ordered by (task, init,
seed), so the seeds of one task's run (same data shapes, same step counts, little padding) sit side by side,
and cut into groups of at most ``train.fused_max`` runs of as even a size as the cap allows."""

from __future__ import annotations

import math

Run = tuple[int, str, str]  # (seed, task, init)


def train_groups(runs: list[Run], num_labels: dict[str, int], fused_max: int) -> dict[str, list[Run]]:
    """Group id (g0, g1, ...: a rule name's suffix) -> its runs, in a fixed order."""
    by_key: dict[tuple[int, bool], list[Run]] = {}
    for r in sorted(runs, key=lambda r: (r[1], r[2], r[0])):
        by_key.setdefault((num_labels[r[1]], r[2].startswith("long")), []).append(r)  # long, long_scratch
    groups: dict[str, list[Run]] = {}
    for key in sorted(by_key):
        members = by_key[key]
        n = math.ceil(len(members) / fused_max)
        size, extra = divmod(len(members), n)
        at = 0
        for i in range(n):
            take = size + (1 if i < extra else 0)
            groups[f"g{len(groups)}"] = members[at:at + take]
            at += take
    return groups
