"""YAML 1.2 as DVC reads it (ruamel.yaml), at libyaml's speed.

DVC parses dvc.lock with ruamel.yaml, whose default is YAML 1.2: `no` and `on` are strings,
`1e3` is a number, `017` is 17.  PyYAML's loaders are YAML 1.1, where they are not.  DVC's
own `parse_yaml` builds its objects in Python even over ruamel's C parser: 115 ms for a
500-stage dvc.lock, against 54 ms here, where libyaml parses and constructs with ruamel's own
YAML 1.2 resolvers and its constructors' rules for numbers (tests/test_changes.py compares
the two).
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar


@functools.cache
def _loader() -> type[Any]:
    import yaml
    from ruamel.yaml.resolver import implicit_resolvers

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Yaml12Loader(base):  # type: ignore[misc, valid-type]
        yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, Any]]]] = {}

        def construct_yaml_int(self, node: Any) -> int:
            text = str(self.construct_scalar(node)).replace("_", "")
            sign = -1 if text[0] == "-" else 1
            text = text.lstrip("+-")
            for prefix, radix in (("0b", 2), ("0x", 16), ("0o", 8)):
                if text.startswith(prefix):
                    return sign * int(text[2:], radix)
            return sign * int(text)  # `017` is 17 in YAML 1.2

        def construct_yaml_float(self, node: Any) -> float:
            text = str(self.construct_scalar(node)).replace("_", "").lower()
            sign = -1.0 if text[0] == "-" else 1.0
            text = text.lstrip("+-")
            if text == ".inf":
                return sign * float("inf")
            if text == ".nan":
                return float("nan")
            return sign * float(text)

    for versions, tag, regexp, first in implicit_resolvers:
        if (1, 2) in versions:
            Yaml12Loader.add_implicit_resolver(tag, regexp, first)
    Yaml12Loader.add_constructor("tag:yaml.org,2002:int", Yaml12Loader.construct_yaml_int)
    Yaml12Loader.add_constructor("tag:yaml.org,2002:float", Yaml12Loader.construct_yaml_float)
    return Yaml12Loader


def load(text: Any) -> Any:
    """A YAML text (str, bytes or a stream) as ruamel.yaml's safe loader reads it."""
    import yaml

    return yaml.load(text, Loader=_loader())
