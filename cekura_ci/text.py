"""Pure helpers for text that came from the API: it is data, shown but never obeyed."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u0085]+")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def one_line(text: object, limit: int | None = None) -> str:
    """Control characters and line breaks folded to spaces, so text cannot start a new line."""
    folded = " ".join(_CONTROL.sub(" ", str(text)).split())
    return clip(folded, limit) if limit else folded


def fold_controls(text: object) -> str:
    """Line breaks and control characters → spaces; other spacing kept (for indented log lines)."""
    return _CONTROL.sub(" ", str(text))


def encodable(text: str) -> str:
    """Lone surrogates (legal in JSON, unencodable in UTF-8) shown as U+FFFD instead of crashing
    the write that meets them."""
    return _SURROGATE.sub("\ufffd", text)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def redact_data(data: object, secrets: list[str]) -> object:
    """JSON-like data with every secret replaced inside its strings only: numbers, keys and
    structure untouched, so what is serialized afterwards stays valid."""
    if isinstance(data, str):
        return redact(data, secrets)
    if isinstance(data, list):
        return [redact_data(item, secrets) for item in data]
    if isinstance(data, dict):
        return {key: redact_data(value, secrets) for key, value in data.items()}
    return data


#: A label with a personality or test profile is kept this short (its name clipped first), so
#: that the shortest clip a report applies (80 characters) never cuts off what tells the
#: scenario's rows apart: two rows once read the same when a long name pushed them out.
LABEL_LIMIT = 80
EXTRA_LIMIT = 25


def scenario_label(name: str, personality: str | None, test_profile: str | None) -> str:
    """How a scenario is named wherever it is shown: `Book a cleaning (Calm, Gold member)`."""
    extras = [x for x in (personality, test_profile) if x]
    if not extras:
        return name
    label = f"{name} ({', '.join(extras)})"
    if len(label) <= LABEL_LIMIT:
        return label
    suffix = f" ({', '.join(clip(one_line(x), EXTRA_LIMIT) for x in extras)})"
    return clip(one_line(name), max(20, LABEL_LIMIT - len(suffix))) + suffix
