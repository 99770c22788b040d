"""Decoding a large object item by item gives what json.loads gives, whatever the window cuts."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from cekura_ci.jsonstream import loads_object


def _value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.3:
        return rng.choice(
            [
                0,
                -2.5,
                1e300,
                12345678901234567890,
                True,
                None,
                "",
                'a"b\\c',
                "é✅😀\u2028",
                "x" * 40,
            ]
        )
    if roll < 0.6:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {f"k{i}é": _value(rng, depth + 1) for i in range(rng.randint(0, 4))}


@pytest.mark.parametrize("seed", range(40))
def test_loads_object_when_windows_cut_anywhere_equals_json_loads(seed: int) -> None:
    """Tiny windows cut numbers ("1e" of "1e+300"), strings and UTF-8 sequences; nothing changes."""
    rng = random.Random(seed)
    runs = rng.choice(
        [{str(i): _value(rng, 1) for i in range(rng.randint(0, 12))}, [_value(rng, 1)] * 5, 7]
    )
    document = {"a": _value(rng), "runs": runs, "z": _value(rng)}
    body = json.dumps(document, ensure_ascii=seed % 2 == 0, indent=seed % 3 or None).encode()
    for window in (1, 2, 3, 5, 64, 1 << 20):
        got = loads_object(body, "runs", lambda key, item: (key, item), window=window)
        want = json.loads(body)
        if isinstance(runs, dict):
            want["runs"] = list(want["runs"].items())
        elif isinstance(runs, list):
            want["runs"] = [(None, item) for item in want["runs"]]
        assert got == want


def test_loads_object_when_each_returns_none_leaves_the_item_out() -> None:
    """The callback's None drops an item; anything else replaces it."""
    body = b'{"runs": {"1": {"keep": true}, "2": {"keep": false}}, "id": 3}'
    found = loads_object(body, "runs", lambda key, item: key if item["keep"] else None)
    assert found == {"runs": ["1"], "id": 3}


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b"12", b"{", b'{"a": 1', b'{"a": 1} x', b'{"runs": [1, 2', b'{"runs": {"1": 2,}}'],
)
def test_loads_object_when_body_is_not_one_json_object_raises_value_error(body: bytes) -> None:
    """Anything but a whole JSON object is refused as a ValueError, whatever the window."""
    for window in (2, 1 << 20):
        with pytest.raises(ValueError):
            loads_object(body, "runs", lambda key, item: item, window=window)
