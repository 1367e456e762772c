"""Generated GLUE-shaped English tasks for offline runs (no internet, no GLUE download).

Four small, deterministic tasks in the prepared-row format of :func:`bertscape.data.make_row`:

* ``SST-2``: one review sentence, binary sentiment. The polarity sits in a sentiment adjective,
  verb or noun; some rows negate it ("was not dull" = positive) and some contrast two clauses
  ("..., but the X was Y": the last clause decides).
* ``MRPC``: a sentence and a rewrite of it with exactly one content word replaced: by a synonym
  (paraphrase, ``"1"``) or by an antonym / different entity / different number (``"0"``).
  Independently of the label the rewrite may be passive and/or move its time phrase.
* ``RTE``: premise and hypothesis differing in one noun, verb or adjective: specific -> general
  (hyponym -> hypernym, "racing" -> "running", "furious" -> "angry") is ``entailment``; the
  reverse direction or an incompatible word is ``not_entailment``.
* ``MNLI``: the same relations, three-way: specific -> general ``entailment``, general ->
  specific ``neutral``, incompatible word ``contradiction``.

What makes them useful for "pre-trained vs from scratch": every label-carrying word (sentiment
words, synonym/antonym groups, hyponym/hypernym triples) comes from a lexicon that is split into
a train half and a dev half with no word in common. Whatever the two splits share (templates,
function words, neutral fillers such as "the movie", "on monday", "in the park") is chosen
independently of the label, and every label's rows use the same templates, lengths and word
overlap. So a model with random word embeddings can only memorise the train words and is at
chance on dev, while a model that already knows English ("terrific" is positive, "purchased"
means "bought", a "stallion" is a "horse") can carry what it learned on train over to dev.

``generate`` is a pure function of its arguments: the same ``(task, n_train, n_dev, seed)``
always gives identical rows; the dev rows do not depend on ``n_train`` (and vice versa).
"""

from __future__ import annotations

import random
import re

from . import TASKS, make_row, task_spec

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

# Templates: {adj}/{verb}/{pnoun} take the polarity word; a leading "NEG:" flips the label;
# "CON:" templates take {adj2} of the opposite polarity first (the last clause decides).
_SST_TEMPLATES = {
    "adj": [
        "The {noun} was {intens} {adj}.",
        "What a {adj} {noun} this turned out to be.",
        "I thought the {noun} was {intens} {adj}.",
        "Honestly, the {noun} is {adj} from start to finish.",
        "The {noun} feels {intens} {adj} most of the time.",
        "It is a {adj} {noun}, and the {noun2} is {adj} too.",
        "Overall, a {intens} {adj} {noun}.",
        "NEG:The {noun} was not {adj} at all.",
        "NEG:I would not call the {noun} {adj}.",
        "NEG:The {noun} is never {intens} {adj}.",
        "CON:The {noun} was {adj2}, but the {noun2} was {intens} {adj}.",
        "CON:Although the {noun} is {adj2}, the {noun2} is {adj}.",
    ],
    "verb": [
        "I {verb} every minute of this {noun}.",
        "We {verb} the {noun} and the {noun2}.",
        "My friends {verb} this {noun}.",
        "NEG:I never {verb} the {noun}.",
    ],
    "noun": [
        "This {noun} is a real {pnoun}.",
        "The whole {noun} was a {pnoun}.",
        "NEG:The {noun} is no {pnoun}.",
    ],
}
_SST_KIND_WEIGHTS = {"adj": 6, "verb": 2, "noun": 2}

# ============================================================================== MRPC
# Each entry is two groups of words: words inside one group are interchangeable (paraphrase),
# a word from one group against a word from the other changes the meaning.
_MRPC_LEX = {
    "adj": {
        "train": [
            (["big", "large"], ["small", "little"]),
            (["expensive", "costly"], ["cheap"]),
            (["pretty", "beautiful"], ["ugly"]),
            (["filthy", "dirty"], ["clean"]),
            (["huge", "enormous"], ["tiny"]),
            (["wet", "damp"], ["dry"]),
            (["ancient", "old"], ["new", "modern"]),
        ],
        "dev": [
            (["strong", "sturdy"], ["weak", "fragile"]),
            (["shiny", "glossy"], ["dull"]),
            (["rare", "unusual"], ["common", "ordinary"]),
            (["valuable", "precious"], ["worthless"]),
            (["simple", "plain"], ["fancy"]),
            (["warm", "cozy"], ["cold", "chilly"]),
            (["tidy", "neat"], ["messy"]),
        ],
    },
    # verbs as (past, participle)
    "verb": {
        "train": [
            ([("bought", "bought"), ("purchased", "purchased")], [("sold", "sold")]),
            ([("fixed", "fixed"), ("repaired", "repaired")], [("broke", "broken"), ("damaged", "damaged")]),
            ([("found", "found"), ("discovered", "discovered")], [("lost", "lost")]),
            ([("kept", "kept"), ("retained", "retained")], [("discarded", "discarded")]),
            ([("cleaned", "cleaned"), ("washed", "washed")], [("painted", "painted")]),
        ],
        "dev": [
            ([("grabbed", "grabbed"), ("seized", "seized")], [("dropped", "dropped")]),
            ([("chose", "chosen"), ("selected", "selected")], [("rejected", "rejected")]),
            ([("hid", "hidden"), ("concealed", "concealed")], [("revealed", "revealed"), ("showed", "shown")]),
            ([("examined", "examined"), ("inspected", "inspected")], [("ignored", "ignored")]),
            ([("ordered", "ordered"), ("requested", "requested")], [("cancelled", "cancelled")]),
            ([("wrecked", "wrecked"), ("ruined", "ruined")], [("restored", "restored")]),
        ],
    },
    "noun": {
        "train": [
            (["car", "automobile"], ["truck"]),
            (["shop", "store"], ["bank"]),
            (["boat", "ship"], ["plane"]),
            (["picture", "photo"], ["map"]),
            (["sofa", "couch"], ["bed"]),
            (["rug", "carpet"], ["curtain"]),
            (["house", "home"], ["barn"]),
        ],
        "dev": [
            (["bag", "sack"], ["box"]),
            (["cup", "mug"], ["plate", "bowl"]),
            (["stone", "rock"], ["brick"]),
            (["hat", "cap"], ["scarf"]),
            (["gift", "present"], ["letter"]),
            (["jacket", "coat"], ["shirt"]),
            (["bike", "bicycle"], ["wagon"]),
        ],
    },
    # numbers as (word, digits); a paraphrase writes the same number the other way
    "num": {
        "train": [("two", "2"), ("three", "3"), ("four", "4"), ("five", "5"), ("six", "6")],
        "dev": [("seven", "7"), ("eight", "8"), ("nine", "9"), ("ten", "10"), ("twelve", "12"),
                ("twenty", "20")],
    },
}
_MRPC_SUBJECTS = ["the manager", "the teacher", "my neighbor", "his sister", "the farmer",
                  "our landlord", "john", "mary", "the company", "her uncle", "the police"]
_MRPC_TIMES = ["on monday", "last week", "yesterday", "in the morning", "last night",
               "on friday", "this summer", "after lunch"]
_MRPC_UNITS = ["days", "weeks", "months", "years"]
_MRPC_SLOT_WEIGHTS = {"adj": 3, "verb": 3, "noun": 3, "num": 1}

# ============================================================================== RTE / MNLI
# Entries (specific, general, incompatible): specific entails general, general does not entail
# specific, and incompatible contradicts both (one scene, one referent, as in SNLI/MNLI).
_NLI_LEX = {
    "noun": {
        "train": [
            ("puppy", "dog", "cat"),
            ("kitten", "cat", "rabbit"),
            ("eagle", "bird", "snake"),
            ("salmon", "fish", "frog"),
            ("rose", "flower", "rock"),
            ("sedan", "car", "bus"),
            ("guitar", "instrument", "hammer"),
            ("apple", "fruit", "potato"),
            ("novel", "book", "painting"),
            ("truck", "vehicle", "tree"),
        ],
        "dev": [
            ("stallion", "horse", "cow"),
            ("lamb", "sheep", "goat"),
            ("ant", "insect", "worm"),
            ("pistol", "gun", "knife"),
            ("mansion", "house", "tent"),
            ("carrot", "vegetable", "cookie"),
            ("boot", "shoe", "glove"),
            ("wolf", "animal", "statue"),
            ("jet", "airplane", "ship"),
            ("sofa", "furniture", "blanket"),
        ],
    },
    "verb": {
        "train": [
            ("racing", "running", "sleeping"),
            ("jogging", "running", "sitting"),
            ("whispering", "talking", "sleeping"),
            ("sipping", "drinking", "sleeping"),
            ("dancing", "moving", "sitting"),
            ("weeping", "crying", "laughing"),
            ("shouting", "speaking", "sleeping"),
        ],
        "dev": [
            ("marching", "walking", "swimming"),
            ("dining", "eating", "skiing"),
            ("giggling", "smiling", "frowning"),
            ("humming", "singing", "silent"),
            ("baking", "cooking", "swimming"),
            ("typing", "writing", "climbing"),
        ],
    },
    # person adjectives and thing adjectives, predicative
    "padj": {
        "train": [
            ("starving", "hungry", "full"),
            ("exhausted", "tired", "rested"),
            ("furious", "angry", "calm"),
            ("terrified", "scared", "calm"),
            ("thrilled", "happy", "sad"),
        ],
        "dev": [
            ("delighted", "pleased", "upset"),
            ("miserable", "unhappy", "cheerful"),
            ("soaked", "wet", "dry"),
            ("brilliant", "smart", "stupid"),
            ("frantic", "worried", "relaxed"),
        ],
    },
    "tadj": {
        "train": [
            ("huge", "big", "small"),
            ("freezing", "cold", "warm"),
            ("filthy", "dirty", "clean"),
            ("ancient", "old", "new"),
        ],
        "dev": [
            ("enormous", "large", "little"),
            ("deafening", "loud", "quiet"),
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


# ============================================================================== vocabulary

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-cased word tokens of ``text`` (the unit the lexicon split is defined over)."""
    return _WORD.findall(text.lower())


def _flatten(obj) -> set[str]:
    if isinstance(obj, str):
        return set(words(re.sub(r"\{\w+\}", " ", obj)))
    out: set[str] = set()
    for x in obj:
        out |= _flatten(x)
    return out


def content_words(task: str, split: str) -> set[str]:
    """The label-carrying lexicon words of ``split`` (``"train"`` or ``"dev"``) for ``task``."""
    task_spec(task)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    lex = {"SST-2": _SST_LEX, "MRPC": _MRPC_LEX, "RTE": _NLI_LEX, "MNLI": _NLI_LEX}[task]
    return _flatten(part[split] for part in lex.values())


def shared_words(task: str) -> set[str]:
    """Every word the generator may put into both splits: templates and neutral fillers."""
    task_spec(task)
    if task == "SST-2":
        templ = [t.split(":", 1)[-1] for ts in _SST_TEMPLATES.values() for t in ts]
        return _flatten([_SST_NOUNS, _SST_INTENS, templ, "a an"])
    if task == "MRPC":
        return _flatten([_MRPC_SUBJECTS, _MRPC_TIMES, _MRPC_UNITS, _MRPC_FRAMES.values(),
                         "the was by a ago"])
    return _flatten([_NLI_PEOPLE, _NLI_PLACES, _NLI_SEE, _NLI_LOOK, _NLI_THINGS, _NLI_TIMES,
                     _NLI_FRAMES.values(), _RTE_PREFIXES, "a an"])


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
    return text[0].upper() + text[1:]


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _balanced_labels(labels: tuple[str, ...], n: int, rng: random.Random) -> list[str]:
    out = [labels[i % len(labels)] for i in range(n)]
    rng.shuffle(out)
    return out


# ============================================================================== SST-2


def _sst2(rng: random.Random, split: str, label: str) -> tuple[str, None]:
    pos = label == "1"
    kind = _weighted(rng, _SST_KIND_WEIGHTS)
    template = rng.choice(_SST_TEMPLATES[kind])
    neg = template.startswith("NEG:")
    con = template.startswith("CON:")
    template = template.split(":", 1)[-1] if (neg or con) else template
    polar = pos != neg  # polarity of the word that goes into the slot
    key = {"adj": "adj", "verb": "verb", "noun": "noun"}[kind]
    word = rng.choice(_SST_LEX[("pos_" if polar else "neg_") + key][split])
    other = rng.choice(_SST_LEX[("neg_" if polar else "pos_") + "adj"][split])
    noun, noun2 = rng.sample(_SST_NOUNS, 2)
    text = template.format(noun=noun, noun2=noun2, intens=rng.choice(_SST_INTENS), adj=word,
                           verb=word, pnoun=word, adj2=other)
    if "{" in text:
        raise AssertionError(text)
    text = re.sub(r"\ba ([aeiou])", r"an \1", text)
    return _sentence(text), None


# ============================================================================== MRPC

# {s} subject, {v} verb (past), {p} participle, {a} adjective, {o} object noun, {t} time phrase
_MRPC_FRAMES = {
    "active": "{s} {v} the {a} {o} {t}.",
    "active_front": "{t}, {s} {v} the {a} {o}.",
    "passive": "the {a} {o} was {p} by {s} {t}.",
    "passive_front": "{t}, the {a} {o} was {p} by {s}.",
}


def _pick_pair(rng: random.Random, groups, same: bool):
    """Two different members of one group (``same``) or one member of each group."""
    if same:
        choices = [g for g in groups if len(g) >= 2]
        a, b = rng.sample(rng.choice(choices), 2)
    else:
        a, b = rng.choice(groups[0]), rng.choice(groups[1])
    return (a, b) if rng.random() < 0.5 else (b, a)


def _mrpc(rng: random.Random, split: str, label: str) -> tuple[str, str]:
    para = label == "1"
    slot = _weighted(rng, _MRPC_SLOT_WEIGHTS)
    lex = {k: v[split] for k, v in _MRPC_LEX.items()}
    adj_groups = rng.choice(lex["adj"])
    verb_groups = rng.choice(lex["verb"])
    noun_groups = rng.choice(lex["noun"])
    adj = rng.choice(adj_groups[0] + adj_groups[1])
    verb = rng.choice(verb_groups[0] + verb_groups[1])
    noun = rng.choice(noun_groups[0] + noun_groups[1])
    a_vals = {"a": adj, "v": verb[0], "p": verb[1], "o": noun}
    b_vals = dict(a_vals)
    if slot == "adj":
        a_vals["a"], b_vals["a"] = _pick_pair(rng, adj_groups, para)
    elif slot == "verb":
        va, vb = _pick_pair(rng, verb_groups, para)
        a_vals.update(v=va[0], p=va[1])
        b_vals.update(v=vb[0], p=vb[1])
    elif slot == "noun":
        a_vals["o"], b_vals["o"] = _pick_pair(rng, noun_groups, para)
    # the number phrase is used for every "num" row and for some others, whatever the label
    if slot == "num" or rng.random() < 0.2:
        unit = rng.choice(_MRPC_UNITS)
        if slot == "num":
            na, nb = rng.sample(lex["num"], 2)
            nb = na if para else nb
            i = rng.randrange(2)  # one side spelled out, the other in digits
            ta, tb = f"{na[i]} {unit} ago", f"{nb[1 - i]} {unit} ago"
        else:
            n = rng.choice(lex["num"])[rng.randrange(2)]
            ta = tb = f"{n} {unit} ago"
    else:
        ta = tb = rng.choice(_MRPC_TIMES)
    subj = rng.choice(_MRPC_SUBJECTS)
    a_vals.update(s=subj, t=ta)
    b_vals.update(s=subj, t=tb)
    # the rewrite changes voice and/or word order independently of the label
    frame_a = "active" if rng.random() < 0.6 else rng.choice(list(_MRPC_FRAMES))
    frame_b = rng.choice([f for f in _MRPC_FRAMES if f != frame_a] + [frame_a])
    a = _sentence(_MRPC_FRAMES[frame_a].format(**a_vals))
    b = _sentence(_MRPC_FRAMES[frame_b].format(**b_vals))
    return (a, b) if rng.random() < 0.5 else (b, a)


# ============================================================================== RTE / MNLI

# {x} the slot word (with its article where needed), {who} person, {where} place, {when} time
_NLI_FRAMES = {
    "noun": ["{who} {see} {x} {where}.", "{x} is lying {where}.", "{when}, {who} {see} {x}."],
    "verb": ["{who} is {x} {where}.", "{who} is {x} {when}.", "{where}, {who} is {x}."],
    "padj": ["{who} {look} {x} {when}.", "{who} {look} {x} {where}.", "{when}, {who} {look} {x}."],
    "tadj": ["{thing} {look} {x} {when}.", "{thing} was {x} {when}.", "{when}, {thing} {look} {x}."],
}
# RTE premises are longer, news-like; the prefix is dropped from the hypothesis
_RTE_PREFIXES = ["a witness said that", "according to the report,", "it was reported that",
                 "police said that", "the neighbors say that", ""]


def _nli_slot(slot: str, word: str) -> str:
    return f"{_article(word)} {word}" if slot == "noun" else word


def _nli(rng: random.Random, split: str, relation: str, task: str) -> tuple[str, str]:
    """``relation`` is ``down`` (specific -> general), ``up`` (general -> specific) or ``clash``."""
    slot = _weighted(rng, _NLI_SLOT_WEIGHTS)
    spec, gen, inc = rng.choice(_NLI_LEX[slot][split])
    if relation == "down":
        wp, wh = spec, gen
    elif relation == "up":
        wp, wh = gen, spec
    else:
        wp = rng.choice([spec, gen])
        wh = inc
        if rng.random() < 0.5:  # either side may hold the incompatible word
            wp, wh = wh, wp
    frame = rng.choice(_NLI_FRAMES[slot])
    fill = dict(who=rng.choice(_NLI_PEOPLE), where=rng.choice(_NLI_PLACES),
                when=rng.choice(_NLI_TIMES), see=rng.choice(_NLI_SEE), look=rng.choice(_NLI_LOOK),
                thing=rng.choice(_NLI_THINGS))
    p = frame.format(x=_nli_slot(slot, wp), **fill)
    h_frame = frame
    if rng.random() < 0.3:  # a hypothesis may drop the place/time: label-preserving
        h_frame = re.sub(r"\{(where|when)\}, | \{(where|when)\}", "", frame)
    h = h_frame.format(x=_nli_slot(slot, wh), **fill)
    if task == "RTE":
        p = f"{rng.choice(_RTE_PREFIXES)} {p}"
    return _sentence(p), _sentence(h)


_NLI_RELATION = {
    "MNLI": {"entailment": ["down"], "neutral": ["up"], "contradiction": ["clash"]},
    "RTE": {"entailment": ["down"], "not_entailment": ["up", "clash", "clash"]},
}


# ============================================================================== API


def _row(task: str, rng: random.Random, split: str, label: str) -> tuple[str, str | None]:
    if task == "SST-2":
        return _sst2(rng, split, label)
    if task == "MRPC":
        return _mrpc(rng, split, label)
    relation = rng.choice(_NLI_RELATION[task][label])
    return _nli(rng, split, relation, task)


def _split_rows(task: str, n: int, split: str, seed: int) -> list[dict]:
    rng = _rng(task, split, seed)
    labels = _balanced_labels(TASKS[task].labels, n, rng)
    seen: set[tuple[str, str | None]] = set()
    rows = []
    for i, label in enumerate(labels):
        for _ in range(50):  # avoid duplicates while the lexicon allows it
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
    if n_train < 1 or n_dev < 1:
        raise ValueError(f"n_train and n_dev must be positive (got {n_train}, {n_dev})")
    return (_split_rows(task, int(n_train), "train", seed),
            _split_rows(task, int(n_dev), "dev", seed))
