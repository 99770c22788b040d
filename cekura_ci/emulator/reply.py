"""What an answer is: status, body and headers, and what the server does with the connection."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    #: "drop" closes the connection without an answer; "slow" waits `delay` real seconds first.
    action: str | None = None
    delay: float = 0.0


def json_reply(status: int, payload: Any, **headers: str) -> Reply:
    return Reply(status, json.dumps(payload).encode(), headers=headers)


def detail(status: int, message: str, **headers: str) -> Reply:
    """DRF's shape for an error that is not about one field: {"detail": message}."""
    return json_reply(status, {"detail": message}, **headers)
