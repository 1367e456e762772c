"""The generated tasks' words: the lexicons (each split into a train half and a dev half with no word in
common), the neutral fillers both splits share, and the templates (see :mod:`bertscape.data.synthetic`)."""

# ============================================================================== SST-2
# Neutral fillers: shared by train and dev, chosen independently of the label.
SST_NOUNS = ["movie", "film", "story", "plot", "script", "cast", "ending", "acting", "dialogue",
             "soundtrack", "sequel", "show", "music", "humor", "pacing", "finale", "premise"]
SST_INTENS = ["very", "really", "quite", "truly", "rather", "so", "simply", "just"]

# Label-carrying words, split train / dev.
SST_LEX = {
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
SST_TEMPLATES = {
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
SST_MODE_WEIGHTS = {"plain": 80, "neg": 13, "con": 7}
SST_KIND_WEIGHTS = {"adj": 6, "verb": 2, "noun": 2}

# ============================================================================== MRPC
# Entries (synonyms, contrasts): two different synonyms make a paraphrase; a synonym against a
# contrast word changes the meaning. Verbs are "past/participle" where the two differ.
MRPC_LEX = {
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
MRPC_DETS = ["the", "her", "his", "our", "my"]
MRPC_TIMES = ["on monday", "last week", "yesterday", "in the morning", "last night",
              "on friday", "this summer", "after lunch", "two days ago", "last month",
              "in april", "on saturday"]
MRPC_SLOT_WEIGHTS = {"person": 2, "adj": 2, "verb": 3, "noun": 3}
# {s} subject, {v} verb (past), {p} participle, {a} adjective, {o} object noun, {t} time phrase
MRPC_FRAMES = {
    "active": "{s} {v} the {a} {o} {t}.",
    "active_front": "{t}, {s} {v} the {a} {o}.",
    "passive": "the {a} {o} was {p} by {s} {t}.",
    "passive_front": "{t}, the {a} {o} was {p} by {s}.",
}

# ============================================================================== RTE / MNLI
# Entries (specific, general, incompatible): specific entails general, general does not entail
# specific, and incompatible contradicts both (one scene, one referent, as in SNLI/MNLI).
NLI_LEX = {
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
NLI_PEOPLE = ["the man", "a woman", "the boy", "a girl", "an elderly man", "the young woman",
              "my brother", "the tourist", "a student", "the child"]
NLI_PLACES = ["in the park", "near the river", "at home", "on the beach", "in the kitchen",
              "at the station", "in the garden", "by the road", "in the yard"]
NLI_SEE = ["saw", "noticed", "photographed", "pointed at", "looked at", "drew"]
NLI_LOOK = ["looked", "seemed", "was", "appeared"]
NLI_THINGS = ["the room", "the kitchen", "the hall", "the street", "the office", "the lobby",
              "the station", "the garage"]
NLI_TIMES = ["this morning", "after work", "all day", "at noon", "last night", "again"]
NLI_SLOT_WEIGHTS = {"noun": 3, "verb": 3, "padj": 2, "tadj": 2}
# {x} the slot word (with its article for nouns), {who} person, {where} place, {when} time
NLI_FRAMES = {
    "noun": ["{who} {see} {x} {where}.", "{x} is lying {where}.", "{when}, {who} {see} {x}."],
    "verb": ["{who} is {x} {where}.", "{who} is {x} {when}.", "{where}, {who} is {x}."],
    "padj": ["{who} {look} {x} {when}.", "{who} {look} {x} {where}.", "{when}, {who} {look} {x}."],
    "tadj": ["{thing} {look} {x} {when}.", "{thing} was {x} {when}.",
             "{when}, {thing} {look} {x}."],
}
# RTE premises are often news-like: a reporting prefix that the hypothesis drops
RTE_PREFIXES = ["a witness said that", "according to the report,", "it was reported that",
                "police said that", "the neighbors say that"]
# relations (with weights) per label: "down" specific -> general, "up" general -> specific,
# "clash" incompatible word
NLI_RELATION = {
    "MNLI": {"entailment": {"down": 1}, "neutral": {"up": 1}, "contradiction": {"clash": 1}},
    "RTE": {"entailment": {"down": 1}, "not_entailment": {"up": 1, "clash": 5}},
}
