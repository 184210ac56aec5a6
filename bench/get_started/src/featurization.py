"""Bag of n-grams over the most frequent terms of the training set, pickled per split."""

import collections
import itertools
import pickle
import sys
from pathlib import Path

import yaml


def terms(text: str, ngrams: int) -> list[str]:
    words = text.lower().split()
    grams = list(words)
    if ngrams >= 2:
        grams += [f"{a} {b}" for a, b in itertools.pairwise(words)]
    return grams


def main() -> None:
    params = yaml.safe_load(Path("params.yaml").read_text())["featurize"]
    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    splits = {}
    for split in ("train", "test"):
        rows = [line.split("\t") for line in (source / f"{split}.tsv").read_text().splitlines()]
        splits[split] = [(int(label), terms(text, params["ngrams"])) for _, label, text in rows]
    counts = collections.Counter(t for _, doc in splits["train"] for t in doc)
    names = [t for t, _ in counts.most_common(params["max_features"])]
    index = {t: i for i, t in enumerate(names)}
    for split, docs in splits.items():
        matrix = [(label, collections.Counter(index[t] for t in doc if t in index))
                  for label, doc in docs]  # fmt: skip
        with (out / f"{split}.pkl").open("wb") as fd:
            pickle.dump((matrix, names), fd)


if __name__ == "__main__":
    main()
