"""Decode a large JSON object one member item at a time, so its biggest part is never whole in memory.

A finished 10,000-run result is about 30 MB of JSON, nearly all of it transcripts. `json.loads` would
turn it into a tree five times that size (and first into a str of up to four bytes per character)
before anything could drop a transcript. Here the body is decoded in windows of about a megabyte with
the standard library's C decoder: each item of one chosen member (`runs`) is handed, fully decoded, to
a callback whose return value replaces it, so only one item's tree exists at a time. Every other
member is decoded whole. The outcome equals `json.loads` followed by the callback on each item.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

_raw_decode = json.JSONDecoder().raw_decode
_SPACE = " \t\n\r"
_NUMBER = "0123456789.eE+-"
WINDOW_BYTES = 1 << 20


class _Window:
    """The part of the body being decoded, as text; moved forward (and widened) on demand."""

    def __init__(self, body: bytes, size: int) -> None:
        self.body = body.removeprefix(b"\xef\xbb\xbf")
        self.size = size
        self._load(0)

    def _load(self, start: int) -> None:
        body = self.body
        end = min(len(body), start + self.size)
        while end < len(body) and body[end] & 0xC0 == 0x80:  # never cut a UTF-8 sequence
            end -= 1
        self.start = start
        self.text = body[start:end].decode("utf-8", "replace")
        self.ascii = self.text.isascii()
        self.complete = end >= len(body)

    def move_to(self, index: int) -> int:
        """Start the window at text[index]; widen it when it would not move. Returns the new index."""
        if self.complete:
            raise ValueError("the JSON text ends too early")
        prefix = self.text[:index]
        offset = self.start + (
            index if self.ascii else len(prefix.encode("utf-8", "surrogatepass"))
        )
        if offset == self.start:
            self.size *= 2
        self._load(offset)
        return 0

    def skip_space(self, index: int) -> int:
        """The index of the next character that is not a space; ValueError at the body's end."""
        found = self._after_spaces(index)
        if found is None:
            raise ValueError("the JSON text ends too early")
        return found

    def has_more(self, index: int) -> bool:
        """Whether anything but spaces follows text[index] in the body."""
        return self._after_spaces(index) is not None

    def _after_spaces(self, index: int) -> int | None:
        while True:
            text = self.text
            while index < len(text) and text[index] in _SPACE:
                index += 1
            if index < len(text):
                return index
            if self.complete:
                return None
            index = self.move_to(index)

    def expect(self, index: int, allowed: str) -> tuple[str, int]:
        """The next non-space character, which must be one of `allowed`, and the index after it."""
        index = self.skip_space(index)
        char = self.text[index]
        if char not in allowed:
            raise ValueError(f"expected one of {allowed!r} at byte {self.start + index}")
        return char, index + 1

    def value(self, index: int) -> tuple[Any, int]:
        """One complete JSON value starting at text[index] (after spaces), and the index after it."""
        index = self.skip_space(index)
        while True:
            try:
                value, end = _raw_decode(self.text, index)
            except json.JSONDecodeError:
                if self.complete:
                    raise
                index = self.move_to(index)
                continue
            if not self.complete and (
                end >= len(self.text)
                or (isinstance(value, (int, float)) and self.text[end] in _NUMBER)
            ):  # a number cut by the window's end ("1e" of "1e+300") decodes as a shorter one
                index = self.move_to(index)
                continue
            return value, end


def loads_object(
    body: bytes,
    member: str,
    each: Callable[[str | None, Any], Any],
    *,
    window: int = WINDOW_BYTES,
) -> dict[str, Any]:
    """`json.loads(body)` for a JSON object, except that when `member` holds an object or an array,
    its items are decoded one by one and it becomes the list of `each(key, item)` (the key is None
    for an array), leaving out None. Raises ValueError (JSONDecodeError, or UnicodeDecodeError) on
    anything that is not a JSON object."""
    reader = _Window(body, window)
    _, index = reader.expect(0, "{")
    found: dict[str, Any] = {}
    index = reader.skip_space(index)
    if reader.text[index] == "}":
        return found
    while True:
        key, index = reader.value(index)
        if not isinstance(key, str):
            raise ValueError("expected a member name")
        _, index = reader.expect(index, ":")
        index = reader.skip_space(index)
        if key == member and reader.text[index] in "{[":
            found[key], index = _items(reader, index, each)
        else:
            found[key], index = reader.value(index)
        separator, index = reader.expect(index, ",}")
        if separator == "}":
            if reader.has_more(index):
                raise ValueError("extra data after the JSON object")
            return found


def _items(
    reader: _Window, index: int, each: Callable[[str | None, Any], Any]
) -> tuple[list[Any], int]:
    opener = reader.text[index]
    closer = "}" if opener == "{" else "]"
    kept: list[Any] = []
    index = reader.skip_space(index + 1)
    if reader.text[index] == closer:
        return kept, index + 1
    while True:
        key = None
        if opener == "{":
            key, index = reader.value(index)
            if not isinstance(key, str):
                raise ValueError("expected a member name")
            _, index = reader.expect(index, ":")
        item, index = reader.value(index)
        result = each(key, item)
        del item  # before the next item is decoded
        if result is not None:
            kept.append(result)
        separator, index = reader.expect(index, "," + closer)
        if separator == closer:
            return kept, index
