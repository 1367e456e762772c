"""Generated GLUE-shaped English tasks for offline runs (no internet, no GLUE download).

Four small, deterministic tasks in the prepared-row format of :func:`bertscape.data.make_row`:

* ``SST-2``: one review sentence, binary sentiment. The polarity sits in a sentiment adjective,
  verb or noun; some rows negate it ("was not dull" = positive) and some contrast two clauses
  ("..., but the X was Y": the last clause decides).
* ``MRPC``: a sentence and a rewrite of it with exactly one content word replaced: by a synonym
  (paraphrase, ``"1"``) or by a word that changes the meaning: another person or object, an
  antonym or another property, another action (``"0"``). Independently of the label the
  rewrite may be passive and/or move its time phrase to the front.
* ``RTE``: premise and hypothesis differing in one noun, verb or adjective: specific -> general
  (hyponym -> hypernym: "puppy" -> "dog", "jogging" -> "running", "terrified" -> "scared") is
  ``entailment``; the reverse direction or an incompatible word ("dog" -> "cat", "running" ->
  "sleeping") is ``not_entailment``. Premises often carry a reporting prefix ("police said
  that ...") that the hypothesis drops.
* ``MNLI``: the same relations, three-way: specific -> general ``entailment``, general ->
  specific ``neutral``, incompatible word ``contradiction``.

What makes them useful for "pre-trained vs from scratch": every label-carrying word (sentiment
words, synonym groups and their contrasts, hyponym/hypernym triples) comes from a lexicon split
into a train half and a dev half with no word in common. Whatever the two splits share
(templates, function words, neutral fillers such as "the movie", "on monday", "in the park") is
chosen independently of the label, and every label's rows use the same templates, lengths and
word overlap. So a model with random word embeddings can only memorise the train words and is
at chance on dev, while a model that already knows English ("terrific" is positive,
"physician" means "doctor", a "stallion" is a "horse") can carry over what it learned on train.

``generate`` is a pure function of its arguments: the same ``(task, n_train, n_dev, seed)``
always gives identical rows; the dev rows do not depend on ``n_train`` (and vice versa).
"""

from __future__ import annotations

import random
import re

from .. import BertscapeError
from . import SYNTHETIC_TASKS, TASKS, make_row, task_spec
from .lexicon import (
    SST_NOUNS, SST_INTENS, SST_LEX, SST_TEMPLATES, SST_MODE_WEIGHTS, SST_KIND_WEIGHTS, MRPC_LEX, MRPC_DETS,
    MRPC_TIMES, MRPC_SLOT_WEIGHTS, MRPC_FRAMES, NLI_LEX, NLI_PEOPLE, NLI_PLACES, NLI_SEE, NLI_LOOK,
    NLI_THINGS, NLI_TIMES, NLI_SLOT_WEIGHTS, NLI_FRAMES, RTE_PREFIXES, NLI_RELATION,
)

SPLITS = ("train", "dev")

# ============================================================================== vocabulary

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-cased word tokens of ``text`` (the unit the lexicon split is defined over)."""
    return _WORD.findall(text.lower())


def _flatten(obj) -> set[str]:
    if isinstance(obj, str):
        return set(words(re.sub(r"\{\w+\}", " ", obj)))
    if isinstance(obj, dict):
        obj = obj.values()
    out: set[str] = set()
    for x in obj:
        out |= _flatten(x)
    return out


def _lexicon(task: str) -> dict:
    return {"SST-2": SST_LEX, "MRPC": MRPC_LEX, "RTE": NLI_LEX, "MNLI": NLI_LEX}[task]


def content_words(task: str, split: str) -> set[str]:
    """The label-carrying lexicon words of ``split`` (``"train"`` or ``"dev"``) for ``task``."""
    task_spec(task)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    return _flatten(part[split] for part in _lexicon(task).values())


def shared_words(task: str) -> set[str]:
    """Every word the generator may put into both splits: templates and neutral fillers."""
    task_spec(task)
    if task == "SST-2":
        return _flatten([SST_NOUNS, SST_INTENS, SST_TEMPLATES, "a an"])
    if task == "MRPC":
        return _flatten([MRPC_DETS, MRPC_TIMES, MRPC_FRAMES])
    return _flatten([NLI_PEOPLE, NLI_PLACES, NLI_SEE, NLI_LOOK, NLI_THINGS, NLI_TIMES,
                     NLI_FRAMES, RTE_PREFIXES, "a an"])


# ============================================================================== helpers


def _rng(task: str, split: str, seed: int) -> random.Random:
    # str seeds are hashed with SHA-512 by random.Random: stable across runs and platforms
    return random.Random(f"bertscape.synthetic:{task}:{split}:{int(seed)}")


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _sentence(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.!?])", r"\1", text)
    text = re.sub(r"\b([Aa]) ([aeiou])", r"\1n \2", text)
    return text[0].upper() + text[1:]


def _balanced_labels(labels: tuple[str, ...], n: int, rng: random.Random) -> list[str]:
    out = [labels[i % len(labels)] for i in range(n)]
    rng.shuffle(out)
    return out


# ============================================================================== SST-2


def _sst2(rng: random.Random, split: str, label: str) -> tuple[str, None]:
    mode = _weighted(rng, SST_MODE_WEIGHTS)
    kinds = {k: w for k, w in SST_KIND_WEIGHTS.items() if k in SST_TEMPLATES[mode]}
    kind = _weighted(rng, kinds)
    template = rng.choice(SST_TEMPLATES[mode][kind])
    polar = (label == "1") != (mode == "neg")  # polarity of the word in the {w} slot
    word = rng.choice(SST_LEX[("pos_" if polar else "neg_") + kind][split])
    other = rng.choice(SST_LEX[("neg_" if polar else "pos_") + "adj"][split])
    noun, noun2 = rng.sample(SST_NOUNS, 2)
    text = template.format(noun=noun, noun2=noun2, intens=rng.choice(SST_INTENS), w=word, o=other)
    return _sentence(text), None


# ============================================================================== MRPC


def _verb(form: str) -> tuple[str, str]:
    past, _, part = form.partition("/")
    return past, part or past


def _pick_pair(rng: random.Random, entry, same: bool) -> tuple[str, str]:
    """Two different synonyms (``same``) or a synonym and a contrast word, in random order."""
    synonyms, contrasts = entry
    if same:
        a, b = rng.sample(synonyms, 2)
    else:
        a, b = rng.choice(synonyms), rng.choice(contrasts)
    return (a, b) if rng.random() < 0.5 else (b, a)


def _mrpc(rng: random.Random, split: str, label: str) -> tuple[str, str]:
    para = label == "1"
    slot = _weighted(rng, MRPC_SLOT_WEIGHTS)
    entries = {k: rng.choice(v[split]) for k, v in MRPC_LEX.items()}
    # the words of the slots that stay the same: any member of the entry
    base = {k: rng.choice(e[0] + e[1]) for k, e in entries.items()}
    a_words, b_words = dict(base), dict(base)
    a_words[slot], b_words[slot] = _pick_pair(rng, entries[slot], para)
    det = rng.choice(MRPC_DETS)
    time = rng.choice(MRPC_TIMES)

    def fill(w: dict) -> dict:
        past, part = _verb(w["verb"])
        return dict(s=f"{det} {w['person']}", v=past, p=part, a=w["adj"], o=w["noun"], t=time)

    # the rewrite changes voice and/or word order independently of the label
    frame_a = "active" if rng.random() < 0.6 else rng.choice(list(MRPC_FRAMES))
    frame_b = rng.choice([f for f in MRPC_FRAMES if f != frame_a] + [frame_a])
    a = _sentence(MRPC_FRAMES[frame_a].format(**fill(a_words)))
    b = _sentence(MRPC_FRAMES[frame_b].format(**fill(b_words)))
    return (a, b) if rng.random() < 0.5 else (b, a)


# ============================================================================== RTE / MNLI


def _nli(rng: random.Random, split: str, relation: str, task: str) -> tuple[str, str]:
    slot = _weighted(rng, NLI_SLOT_WEIGHTS)
    spec, gen, inc = rng.choice(NLI_LEX[slot][split])
    if relation == "down":
        wp, wh = spec, gen
    elif relation == "up":
        wp, wh = gen, spec
    else:
        wp, wh = rng.choice([spec, gen]), inc
        if rng.random() < 0.5:  # either side may hold the incompatible word
            wp, wh = wh, wp
    if slot == "noun":
        wp, wh = f"a {wp}", f"a {wh}"
    frame = rng.choice(NLI_FRAMES[slot])
    fill = dict(who=rng.choice(NLI_PEOPLE), where=rng.choice(NLI_PLACES),
                when=rng.choice(NLI_TIMES), see=rng.choice(NLI_SEE), look=rng.choice(NLI_LOOK),
                thing=rng.choice(NLI_THINGS))
    h_frame = frame
    if rng.random() < 0.25:  # the hypothesis may drop the place/time: label-preserving
        h_frame = re.sub(r"\{(where|when)\}, | \{(where|when)\}", "", frame)
    p = frame.format(x=wp, **fill)
    h = h_frame.format(x=wh, **fill)
    if task == "RTE" and rng.random() < 0.6:
        p = f"{rng.choice(RTE_PREFIXES)} {p}"
    return _sentence(p), _sentence(h)


# ============================================================================== API


def _row(task: str, rng: random.Random, split: str, label: str) -> tuple[str, str | None]:
    if task == "SST-2":
        return _sst2(rng, split, label)
    if task == "MRPC":
        return _mrpc(rng, split, label)
    return _nli(rng, split, _weighted(rng, NLI_RELATION[task][label]), task)


def _split_rows(task: str, n: int, split: str, seed: int) -> list[dict]:
    rng = _rng(task, split, seed)
    labels = _balanced_labels(TASKS[task].labels, n, rng)
    seen: set[tuple[str, str | None]] = set()
    rows = []
    for i, label in enumerate(labels):
        for _ in range(50):  # avoid duplicate rows while the lexicon allows it
            pair = _row(task, rng, split, label)
            if pair not in seen:
                break
        seen.add(pair)
        rows.append(make_row(task, i, pair[0], pair[1], label, f"synthetic:{task}:{split}:{i}"))
    return rows


def generate(task: str, n_train: int, n_dev: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Deterministic (same args -> identical rows) train and dev examples for task in
    {"SST-2","MRPC","RTE","MNLI"}.

    Labels are balanced (class counts differ by at most one); dev's label-carrying words never
    occur in train (see :func:`content_words`).
    """
    task_spec(task)
    if task not in SYNTHETIC_TASKS:
        raise BertscapeError(f"synthetic data exists only for {', '.join(SYNTHETIC_TASKS)} (not {task})")
    if int(n_train) < 1 or int(n_dev) < 1:
        raise BertscapeError(f"synthetic {task}: n_train and n_dev must be positive "
                             f"(got {n_train}, {n_dev})")
    return (_split_rows(task, int(n_train), "train", seed),
            _split_rows(task, int(n_dev), "dev", seed))
