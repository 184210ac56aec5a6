"""An ensemble of smoothed naive-Bayes scorers on bootstrap samples (a stand-in forest)."""

import math
import pickle
import random
import sys
from pathlib import Path

import yaml


def main() -> None:
    params = yaml.safe_load(Path("params.yaml").read_text())["train"]
    with (Path(sys.argv[1]) / "train.pkl").open("rb") as fd:
        matrix, names = pickle.load(fd)
    rng = random.Random(params["seed"])
    alpha = 1 + 100 * params["min_split"]
    weights = [0.0] * len(names)
    for _ in range(params["n_est"]):
        sample = rng.choices(matrix, k=len(matrix) // 5)
        counts = [[alpha] * len(names), [alpha] * len(names)]
        for label, doc in sample:
            for term, n in doc.items():
                counts[label][term] += n
        totals = [sum(c) for c in counts]
        for t in range(len(names)):
            odds = (counts[1][t] / totals[1]) / (counts[0][t] / totals[0])
            weights[t] += math.log(odds) / params["n_est"]
    prior = math.log(sum(label for label, _ in matrix) / len(matrix))
    with Path(sys.argv[2]).open("wb") as fd:
        pickle.dump({"weights": weights, "names": names, "prior": prior}, fd)


if __name__ == "__main__":
    main()
