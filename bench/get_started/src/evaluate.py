"""Write what example-get-started's evaluate.py writes through dvclive's sklearn plots.

eval/metrics.json ({"avg_prec": {split: ...}, "roc_auc": {split: ...}}), per split
eval/plots/sklearn/{roc,prc,cm}/<split>.json in dvclive's shapes (ROC and PR curves with
sklearn's drop_intermediate, the first ROC threshold Infinity as sklearn writes it; one
confusion row per sample), and a feature-importance bar chart eval/plots/images/importance.png.
"""

import itertools
import json
import math
import pickle
import struct
import sys
import zlib
from pathlib import Path

EVAL = Path("eval")


def dump(content: object, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=4) + "\n")  # dvclive's dump_json


def curve(labels: list[int], scores: list[float]) -> list[tuple[float, int, int]]:
    """(threshold, true positives, false positives) at each distinct score, highest first."""
    pairs = sorted(zip(scores, labels, strict=True), reverse=True)
    out, tp, fp = [], 0, 0
    for i, (score, label) in enumerate(pairs):
        tp, fp = tp + label, fp + 1 - label
        if i + 1 == len(pairs) or pairs[i + 1][0] != score:
            out.append((score, tp, fp))
    return out


def keep_corners(points: list[tuple[float, int, int]]) -> list[tuple[float, int, int]]:
    """sklearn's drop_intermediate: only points where the curve changes direction."""
    kept = [points[0]]
    for before, at, after in zip(points, points[1:], points[2:], strict=False):
        turns = (after[1] - at[1], after[2] - at[2]) != (at[1] - before[1], at[2] - before[2])
        if turns:
            kept.append(at)
    return [*kept, points[-1]] if len(points) > 1 else kept


def roc(labels: list[int], scores: list[float]) -> tuple[list[dict[str, float]], float]:
    points = keep_corners(curve(labels, scores))
    pos, neg = points[-1][1], points[-1][2]
    rows = [{"fpr": 0.0, "tpr": 0.0, "threshold": math.inf}]
    rows += [{"fpr": fp / neg, "tpr": tp / pos, "threshold": t} for t, tp, fp in points]
    auc = sum(
        (b["fpr"] - a["fpr"]) * (a["tpr"] + b["tpr"]) / 2 for a, b in itertools.pairwise(rows)
    )
    return rows, auc


def prc(labels: list[int], scores: list[float]) -> tuple[list[dict[str, float]], float]:
    points = curve(labels, scores)
    pos = points[-1][1]
    avg_prec, recall = 0.0, 0.0
    for _, tp, fp in points:
        avg_prec += (tp / pos - recall) * tp / (tp + fp)
        recall = tp / pos
    kept = keep_corners(points)
    rows = [{"precision": tp / (tp + fp), "recall": tp / pos, "threshold": t} for t, tp, fp in kept]
    return rows[::-1], avg_prec  # ascending thresholds, as sklearn


def png(width: int, height: int, bars: list[float]) -> bytes:
    """A bar chart: white background, one blue bar per value (scaled to the largest)."""
    top = max(bars) or 1.0
    step = width // len(bars)
    heights = [int(v / top * (height - 40)) for v in bars]
    rows = []
    for y in range(height):
        row = bytearray(b"\0")
        for x in range(width):
            bar = x // step
            inside = (
                bar < len(bars) and x % step > 2 and height - 20 - heights[bar] <= y < height - 20
            )
            row += b"\x1f\x77\xb4" if inside else b"\xff\xff\xff"
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"".join(rows))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def main() -> None:
    with Path(sys.argv[1]).open("rb") as fd:
        model = pickle.load(fd)
    summary: dict[str, dict[str, float]] = {"avg_prec": {}, "roc_auc": {}}
    for split in ("train", "test"):
        with (Path(sys.argv[2]) / f"{split}.pkl").open("rb") as fd:
            matrix, _ = pickle.load(fd)
        labels = [label for label, _ in matrix]
        scores = []
        for _, doc in matrix:
            logit = model["prior"] + sum(model["weights"][t] * n for t, n in doc.items())
            # Rounded: a forest's averaged leaf votes take a limited set of values.
            scores.append(round(1 / (1 + math.exp(-max(-30.0, min(30.0, logit)))), 3))
        roc_rows, summary["roc_auc"][split] = roc(labels, scores)
        prc_rows, summary["avg_prec"][split] = prc(labels, scores)
        dump({"roc": roc_rows}, EVAL / "plots" / "sklearn" / "roc" / f"{split}.json")
        dump({"precision_recall": prc_rows}, EVAL / "plots" / "sklearn" / "prc" / f"{split}.json")
        cm = [
            {"actual": str(a), "predicted": str(int(s > 0.5))}
            for a, s in zip(labels, scores, strict=True)
        ]
        dump(cm, EVAL / "plots" / "sklearn" / "cm" / f"{split}.json")
    dump(summary, EVAL / "metrics.json")
    importance = sorted((abs(w) for w in model["weights"]), reverse=True)[:30]
    image = EVAL / "plots" / "images" / "importance.png"
    image.parent.mkdir(parents=True, exist_ok=True)
    image.write_bytes(png(640, 480, importance))


if __name__ == "__main__":
    main()
