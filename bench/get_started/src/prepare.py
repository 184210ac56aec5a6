"""Split the XML posts into train/test TSV files (as example-get-started's prepare.py)."""

import random
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml


def main() -> None:
    params = yaml.safe_load(Path("params.yaml").read_text())["prepare"]
    random.seed(params["seed"])
    out = Path("data") / "prepared"
    out.mkdir(parents=True, exist_ok=True)
    with (out / "train.tsv").open("w") as train, (out / "test.tsv").open("w") as test:
        for line in Path(sys.argv[1]).read_text().splitlines():
            attr = ET.fromstring(line).attrib
            label = 1 if "<r>" in attr.get("Tags", "") else 0
            text = re.sub(r"\s+", " ", f"{attr.get('Title', '')} {attr.get('Body', '')}").strip()
            fd = test if random.random() < params["split"] else train
            fd.write(f"{attr['Id']}\t{label}\t{text}\n")


if __name__ == "__main__":
    main()
