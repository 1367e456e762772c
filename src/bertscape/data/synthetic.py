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

SPLITS = ("train", "dev")

# ============================================================================== SST-2
# Neutral fillers: shared by train and dev, chosen independently of the label.
_SST_NOUNS = ["movie", "film", "story", "plot", "script", "cast", "ending", "acting", "dialogue",
              "soundtrack", "sequel", "show", "music", "humor", "pacing", "finale", "premise"]
_SST_INTENS = ["very", "really", "quite", "truly", "rather", "so", "simply", "just"]

# Label-carrying words, split train / dev.
_SST_LEX = {
    "pos_adj": {
        "train": ["good", "great", "wonderful", "excellent", "brilliant", "charming", "delightful",
                  "beautiful", "funny", "clever", "lovely", "superb", "fantastic", "enjoyable",
                  "gripping", "powerful", "touching", "smart", "sweet", "fresh"],
        "dev": ["amazing", "terrific", "splendid", "outstanding", "impressive", "engaging",
                "magnificent", "perfect", "pleasant", "inspiring", "remarkable", "elegant",
                "thrilling", "witty", "entertaining", "exciting", "hilarious", "fabulous"],
    },
    "neg_adj": {
        "train": ["bad", "awful", "terrible", "boring", "dull", "stupid", "weak", "poor", "ugly",
                  "painful", "lazy", "silly", "annoying", "bland", "horrible", "pointless",
                  "clumsy", "irritating", "messy", "cheap"],
        "dev": ["dreadful", "nasty", "miserable", "pathetic", "disappointing", "stale",
                "awkward", "shallow", "predictable", "sloppy", "worthless", "ridiculous",
                "unpleasant", "confusing", "rotten", "disgusting", "hollow", "lame"],
    },
    "pos_verb": {
        "train": ["loved", "enjoyed", "adored", "liked", "admired"],
        "dev": ["valued", "praised", "appreciated", "celebrated", "embraced"],
    },
    "neg_verb": {
        "train": ["hated", "disliked", "despised", "cursed"],
        "dev": ["mocked", "resented", "regretted", "endured"],
    },
    "pos_noun": {
        "train": ["masterpiece", "triumph", "gem", "delight", "treat"],
        "dev": ["marvel", "pleasure", "winner", "classic", "joy"],
    },
    "neg_noun": {
        "train": ["mess", "disaster", "failure", "bore", "waste"],
        "dev": ["flop", "joke", "nightmare", "catastrophe", "insult"],
    },
}

# {w} takes the polarity word (adjective, verb or noun as the template's kind says).
# "plain": the word's polarity is the label; "neg": negated, the label is the opposite;
# "con": "{o}" (an adjective of the opposite polarity) comes first, the last clause decides.
_SST_TEMPLATES = {
    "plain": {
        "adj": ["The {noun} was {intens} {w}.",
                "What a {w} {noun} this turned out to be.",
                "I thought the {noun} was {intens} {w}.",
                "Honestly, the {noun} is {w} from start to finish.",
                "The {noun} feels {intens} {w} most of the time.",
                "It is a {w} {noun}, and the {noun2} is {w} too.",
                "Overall, a {w} {noun}."],
        "verb": ["I {w} every minute of this {noun}.",
                 "We {w} the {noun} and the {noun2}.",
                 "My friends {w} this {noun}."],
        "noun": ["This {noun} is a real {w}.",
                 "The whole {noun} was a {w}."],
    },
    "neg": {
        "adj": ["The {noun} was not {w} at all.",
                "I would not call the {noun} {w}.",
                "The {noun} is never {intens} {w}."],
        "verb": ["I never {w} the {noun}."],
        "noun": ["The {noun} is no {w}."],
    },
    "con": {
        "adj": ["The {noun} was {o}, but the {noun2} was {intens} {w}.",
                "Although the {noun} is {o}, the {noun2} is {w}."],
    },
}
_SST_MODE_WEIGHTS = {"plain": 80, "neg": 13, "con": 7}
_SST_KIND_WEIGHTS = {"adj": 6, "verb": 2, "noun": 2}

# ============================================================================== MRPC
# Entries (synonyms, contrasts): two different synonyms make a paraphrase; a synonym against a
# contrast word changes the meaning. Verbs are "past/participle" where the two differ.
_MRPC_LEX = {
    "person": {
        "train": [
            (["doctor", "physician"], ["lawyer"]),
            (["kid", "child"], ["teacher"]),
            (["mom", "mother"], ["uncle"]),
        ],
        "dev": [
            (["cop", "policeman", "officer"], ["nurse"]),
            (["chef", "cook"], ["pilot"]),
            (["dad", "father"], ["aunt"]),
            (["teen", "teenager"], ["grandpa"]),
        ],
    },
    "adj": {
        "train": [
            (["huge", "enormous", "massive"], ["tiny", "red"]),
            (["beautiful", "gorgeous", "lovely"], ["broken", "ugly"]),
            (["famous", "renowned"], ["unknown"]),
            (["awful", "terrible", "horrible"], ["wonderful", "excellent"]),
            (["valuable", "precious"], ["worthless"]),
        ],
        "dev": [
            (["scary", "frightening"], ["funny"]),
            (["modern", "contemporary"], ["ancient"]),
            (["rare", "unusual"], ["common"]),
            (["big", "large"], ["yellow", "wooden"]),
            (["dirty", "filthy"], ["green"]),
        ],
    },
    "verb": {
        "train": [
            (["bought", "purchased"], ["painted"]),
            (["found", "discovered"], ["lost"]),
            (["needed", "required"], ["refused"]),
            (["liked", "enjoyed"], ["hated"]),
            (["destroyed", "wrecked", "ruined"], ["restored"]),
            (["examined", "inspected", "checked"], ["ignored"]),
        ],
        "dev": [
            (["burned", "burnt"], ["saved"]),
            (["tossed", "threw/thrown"], ["photographed"]),
            (["chose/chosen", "selected", "picked"], ["rejected"]),
            (["smashed", "shattered"], ["fixed"]),
            (["requested", "ordered"], ["cancelled"]),
            (["cleaned", "washed"], ["stole/stolen"]),
        ],
    },
    "noun": {
        "train": [
            (["tv", "television"], ["radio"]),
            (["movie", "film"], ["book"]),
            (["automobile", "car"], ["horse"]),
            (["pistol", "gun", "handgun"], ["knife"]),
            (["pants", "trousers"], ["shirt"]),
            (["gift", "present"], ["wallet"]),
            (["trash", "garbage", "rubbish"], ["mail"]),
            (["rug", "carpet"], ["curtain"]),
        ],
        "dev": [
            (["fridge", "refrigerator"], ["oven"]),
            (["picture", "photo", "photograph"], ["map"]),
            (["bike", "bicycle"], ["wagon"]),
            (["airplane", "plane", "aircraft"], ["train"]),
            (["couch", "sofa"], ["piano"]),
            (["cash", "money"], ["jewelry"]),
            (["phone", "telephone"], ["camera"]),
            (["suitcase", "luggage"], ["umbrella"]),
        ],
    },
}
_MRPC_DETS = ["the", "her", "his", "our", "my"]
_MRPC_TIMES = ["on monday", "last week", "yesterday", "in the morning", "last night",
               "on friday", "this summer", "after lunch", "two days ago", "last month",
               "in april", "on saturday"]
_MRPC_SLOT_WEIGHTS = {"person": 2, "adj": 2, "verb": 3, "noun": 3}
# {s} subject, {v} verb (past), {p} participle, {a} adjective, {o} object noun, {t} time phrase
_MRPC_FRAMES = {
    "active": "{s} {v} the {a} {o} {t}.",
    "active_front": "{t}, {s} {v} the {a} {o}.",
    "passive": "the {a} {o} was {p} by {s} {t}.",
    "passive_front": "{t}, the {a} {o} was {p} by {s}.",
}

# ============================================================================== RTE / MNLI
# Entries (specific, general, incompatible): specific entails general, general does not entail
# specific, and incompatible contradicts both (one scene, one referent, as in SNLI/MNLI).
_NLI_LEX = {
    "noun": {
        "train": [
            ("puppy", "dog", "cat"),
            ("kitten", "cat", "rabbit"),
            ("parrot", "bird", "frog"),
            ("trout", "fish", "dog"),
            ("guitar", "instrument", "hammer"),
            ("novel", "book", "painting"),
            ("truck", "vehicle", "tree"),
            ("laptop", "computer", "lamp"),
            ("banana", "fruit", "candle"),
            ("sedan", "car", "bus"),
        ],
        "dev": [
            ("stallion", "horse", "cow"),
            ("pistol", "gun", "knife"),
            ("mansion", "house", "tent"),
            ("carrot", "vegetable", "cookie"),
            ("boot", "shoe", "glove"),
            ("wolf", "animal", "statue"),
            ("armchair", "chair", "blanket"),
            ("cobra", "snake", "sheep"),
            ("beetle", "insect", "horse"),
            ("drill", "tool", "cake"),
        ],
    },
    "verb": {
        "train": [
            ("racing", "running", "sleeping"),
            ("jogging", "running", "sitting"),
            ("chatting", "talking", "sleeping"),
            ("sipping", "drinking", "sleeping"),
            ("weeping", "crying", "laughing"),
            ("sobbing", "crying", "laughing"),
            ("shouting", "speaking", "sleeping"),
            ("staring", "looking", "sleeping"),
        ],
        "dev": [
            ("dining", "eating", "skiing"),
            ("baking", "cooking", "swimming"),
            ("typing", "writing", "climbing"),
            ("grinning", "smiling", "frowning"),
            ("leaping", "jumping", "kneeling"),
            ("sweeping", "cleaning", "swimming"),
        ],
    },
    # adjectives about people
    "padj": {
        "train": [
            ("starving", "hungry", "full"),
            ("terrified", "scared", "calm"),
            ("thrilled", "happy", "sad"),
            ("exhausted", "tired", "energetic"),
        ],
        "dev": [
            ("delighted", "pleased", "upset"),
            ("miserable", "unhappy", "cheerful"),
            ("stunned", "surprised", "bored"),
            ("furious", "upset", "cheerful"),
        ],
    },
    # adjectives about places
    "tadj": {
        "train": [
            ("huge", "big", "small"),
            ("filthy", "dirty", "spotless"),
            ("gorgeous", "beautiful", "ugly"),
        ],
        "dev": [
            ("enormous", "large", "little"),
            ("gleaming", "shiny", "dull"),
            ("packed", "crowded", "empty"),
        ],
    },
}
_NLI_PEOPLE = ["the man", "a woman", "the boy", "a girl", "an elderly man", "the young woman",
               "my brother", "the tourist", "a student", "the child"]
_NLI_PLACES = ["in the park", "near the river", "at home", "on the beach", "in the kitchen",
               "at the station", "in the garden", "by the road", "in the yard"]
_NLI_SEE = ["saw", "noticed", "photographed", "pointed at", "looked at", "drew"]
_NLI_LOOK = ["looked", "seemed", "was", "appeared"]
_NLI_THINGS = ["the room", "the kitchen", "the hall", "the street", "the office", "the lobby",
               "the station", "the garage"]
_NLI_TIMES = ["this morning", "after work", "all day", "at noon", "last night", "again"]
_NLI_SLOT_WEIGHTS = {"noun": 3, "verb": 3, "padj": 2, "tadj": 2}
# {x} the slot word (with its article for nouns), {who} person, {where} place, {when} time
_NLI_FRAMES = {
    "noun": ["{who} {see} {x} {where}.", "{x} is lying {where}.", "{when}, {who} {see} {x}."],
    "verb": ["{who} is {x} {where}.", "{who} is {x} {when}.", "{where}, {who} is {x}."],
    "padj": ["{who} {look} {x} {when}.", "{who} {look} {x} {where}.", "{when}, {who} {look} {x}."],
    "tadj": ["{thing} {look} {x} {when}.", "{thing} was {x} {when}.",
             "{when}, {thing} {look} {x}."],
}
# RTE premises are often news-like: a reporting prefix that the hypothesis drops
_RTE_PREFIXES = ["a witness said that", "according to the report,", "it was reported that",
                 "police said that", "the neighbors say that"]
# relations (with weights) per label: "down" specific -> general, "up" general -> specific,
# "clash" incompatible word
_NLI_RELATION = {
    "MNLI": {"entailment": {"down": 1}, "neutral": {"up": 1}, "contradiction": {"clash": 1}},
    "RTE": {"entailment": {"down": 1}, "not_entailment": {"up": 1, "clash": 5}},
}


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
    return {"SST-2": _SST_LEX, "MRPC": _MRPC_LEX, "RTE": _NLI_LEX, "MNLI": _NLI_LEX}[task]


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
        return _flatten([_SST_NOUNS, _SST_INTENS, _SST_TEMPLATES, "a an"])
    if task == "MRPC":
        return _flatten([_MRPC_DETS, _MRPC_TIMES, _MRPC_FRAMES])
    return _flatten([_NLI_PEOPLE, _NLI_PLACES, _NLI_SEE, _NLI_LOOK, _NLI_THINGS, _NLI_TIMES,
                     _NLI_FRAMES, _RTE_PREFIXES, "a an"])


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
    mode = _weighted(rng, _SST_MODE_WEIGHTS)
    kinds = {k: w for k, w in _SST_KIND_WEIGHTS.items() if k in _SST_TEMPLATES[mode]}
    kind = _weighted(rng, kinds)
    template = rng.choice(_SST_TEMPLATES[mode][kind])
    polar = (label == "1") != (mode == "neg")  # polarity of the word in the {w} slot
    word = rng.choice(_SST_LEX[("pos_" if polar else "neg_") + kind][split])
    other = rng.choice(_SST_LEX[("neg_" if polar else "pos_") + "adj"][split])
    noun, noun2 = rng.sample(_SST_NOUNS, 2)
    text = template.format(noun=noun, noun2=noun2, intens=rng.choice(_SST_INTENS), w=word, o=other)
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
    slot = _weighted(rng, _MRPC_SLOT_WEIGHTS)
    entries = {k: rng.choice(v[split]) for k, v in _MRPC_LEX.items()}
    # the words of the slots that stay the same: any member of the entry
    base = {k: rng.choice(e[0] + e[1]) for k, e in entries.items()}
    a_words, b_words = dict(base), dict(base)
    a_words[slot], b_words[slot] = _pick_pair(rng, entries[slot], para)
    det = rng.choice(_MRPC_DETS)
    time = rng.choice(_MRPC_TIMES)

    def fill(w: dict) -> dict:
        past, part = _verb(w["verb"])
        return dict(s=f"{det} {w['person']}", v=past, p=part, a=w["adj"], o=w["noun"], t=time)

    # the rewrite changes voice and/or word order independently of the label
    frame_a = "active" if rng.random() < 0.6 else rng.choice(list(_MRPC_FRAMES))
    frame_b = rng.choice([f for f in _MRPC_FRAMES if f != frame_a] + [frame_a])
    a = _sentence(_MRPC_FRAMES[frame_a].format(**fill(a_words)))
    b = _sentence(_MRPC_FRAMES[frame_b].format(**fill(b_words)))
    return (a, b) if rng.random() < 0.5 else (b, a)


# ============================================================================== RTE / MNLI


def _nli(rng: random.Random, split: str, relation: str, task: str) -> tuple[str, str]:
    slot = _weighted(rng, _NLI_SLOT_WEIGHTS)
    spec, gen, inc = rng.choice(_NLI_LEX[slot][split])
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
    frame = rng.choice(_NLI_FRAMES[slot])
    fill = dict(who=rng.choice(_NLI_PEOPLE), where=rng.choice(_NLI_PLACES),
                when=rng.choice(_NLI_TIMES), see=rng.choice(_NLI_SEE), look=rng.choice(_NLI_LOOK),
                thing=rng.choice(_NLI_THINGS))
    h_frame = frame
    if rng.random() < 0.25:  # the hypothesis may drop the place/time: label-preserving
        h_frame = re.sub(r"\{(where|when)\}, | \{(where|when)\}", "", frame)
    p = frame.format(x=wp, **fill)
    h = h_frame.format(x=wh, **fill)
    if task == "RTE" and rng.random() < 0.6:
        p = f"{rng.choice(_RTE_PREFIXES)} {p}"
    return _sentence(p), _sentence(h)


# ============================================================================== API


def _row(task: str, rng: random.Random, split: str, label: str) -> tuple[str, str | None]:
    if task == "SST-2":
        return _sst2(rng, split, label)
    if task == "MRPC":
        return _mrpc(rng, split, label)
    return _nli(rng, split, _weighted(rng, _NLI_RELATION[task][label]), task)


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
