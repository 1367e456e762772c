"""Writes the tiny end-to-end data (config/tiny-custom.yaml): invented sentences, no real data.

- glue/STS-B/{train,dev}.tsv: GLUE's STS-B format (header, 10 tab-separated columns, float score in
  [0, 5]); the score is 5 x the share of sentence1's words that sentence2 repeats.
- Polarity/{train,dev}.csv: a custom classification task (csv with quoted fields, labels neg/pos).
Run: python tests/data/tiny-custom/make.py   (deterministic)
"""

import csv
import random
from pathlib import Path

HERE = Path(__file__).parent
NOUNS = "cat dog bird horse child farmer teacher river city garden train boat song letter storm".split()
VERBS = "sees finds paints follows carries watches builds hears opens crosses".split()
ADJ = {"pos": "wonderful brilliant lovely charming delightful superb".split(),
       "neg": "awful dreadful boring clumsy dull tedious".split()}


def sts(rng, n, split):
    rows = []
    for i in range(n):
        a = [rng.choice(NOUNS), rng.choice(VERBS), "the", rng.choice(NOUNS), "near", "the", rng.choice(NOUNS)]
        keep = rng.randint(0, len(a))
        b = [w if j < keep else rng.choice(NOUNS + VERBS) for j, w in enumerate(a)]
        score = round(5.0 * keep / len(a), 3)
        rows.append([str(i), "main-captions", "MSRvid", "2012", str(i), "none", "none",
                     "A " + " ".join(a) + ".", "A " + " ".join(b) + ".", f"{score:.3f}"])
    d = HERE / "glue" / "STS-B"
    d.mkdir(parents=True, exist_ok=True)
    head = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore"
    (d / f"{split}.tsv").write_text(head + "\n" + "".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")


def polarity(rng, n, split):
    d = HERE / "Polarity"
    d.mkdir(parents=True, exist_ok=True)
    with open(d / f"{split}.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "review", "sentiment"])
        for i in range(n):
            lab = ("neg", "pos")[i % 2]
            w.writerow([i, f'The {rng.choice(NOUNS)}, "{rng.choice(ADJ[lab])}", was {rng.choice(ADJ[lab])}.', lab])


rng = random.Random(0)
for split, n in (("train", 48), ("dev", 24)):
    sts(rng, n, split)
    polarity(rng, n, split)
