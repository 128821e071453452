"""Values that fit a JSON schema, for simulated tool arguments and structured outputs.

Deterministic (a seeded `random.Random`), covering what tool and response schemas use:
objects (every property, as strict mode requires), arrays, strings, numbers, integers,
booleans, null, `enum`, `const`, `anyOf`/`oneOf` (the first branch) and local `$ref`s.
"""

from __future__ import annotations

import random
from typing import Any

__all__ = ["sample"]

_MAX_DEPTH = 12


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    node: Any = root
    for part in ref[2:].split("/"):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def sample(
    schema: Any,
    rng: random.Random,
    words: list[str],
    *,
    root: dict[str, Any] | None = None,
    items: int = 2,
    depth: int = 0,
) -> Any:
    """A value fitting `schema`; strings are drawn from `words`."""
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return rng.choice(words)
    root = schema if root is None else root
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            return sample(branches[0], rng, words, root=root, items=items, depth=depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    return _typed(
        str(kind or ("object" if "properties" in schema else "string")),
        schema,
        rng,
        words,
        root,
        items,
        depth,
    )


def _typed(
    kind: str,
    schema: dict[str, Any],
    rng: random.Random,
    words: list[str],
    root: dict[str, Any],
    items: int,
    depth: int,
) -> Any:
    if kind == "object":
        props = schema.get("properties")
        if not isinstance(props, dict):
            return {}
        return {
            k: sample(v, rng, words, root=root, items=items, depth=depth + 1)
            for k, v in props.items()
        }
    if kind == "array":
        return [
            sample(schema.get("items"), rng, words, root=root, items=items, depth=depth + 1)
            for _ in range(items)
        ]
    if kind == "integer":
        return rng.randint(1, 40)
    if kind == "number":
        return round(rng.uniform(1, 40), 1)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return rng.choice(words)
