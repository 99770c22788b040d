"""Helpers the tests import: the test key, a fake clock, world and workspace builders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from cekura_ci.timing import CancelToken, Clock

API_KEY = "ck_test_5f1e2d3c4b5a69788796a5b4"


class FakeClock(Clock):
    """Time that only moves when something sleeps; `at(t, fn)` runs fn once time reaches t."""

    def __init__(self, cancel: CancelToken | None = None) -> None:
        super().__init__(cancel)
        self.t = 0.0
        self.sleeps: list[float] = []
        self._events: list[tuple[float, Callable[[], None]]] = []

    def now(self) -> float:
        return self.t

    def at(self, moment: float, action: Callable[[], None]) -> None:
        self._events.append((moment, action))

    def sleep(self, seconds: float) -> None:
        self.cancel.check()
        self.sleeps.append(seconds)
        self.t += seconds
        due = [e for e in self._events if e[0] <= self.t]
        self._events = [e for e in self._events if e[0] > self.t]
        for _moment, action in due:
            action()
        self.cancel.check()


def scenario(id: int, name: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": id, "name": name or f"Scenario {id}", "agent": 42, **extra}


def github_env(workspace: Path, **extra: str) -> dict[str, str]:
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(workspace / "github_output"),
        "GITHUB_STEP_SUMMARY": str(workspace / "step_summary.md"),
        **extra,
    }


def read_outputs(path: Path) -> dict[str, str]:
    """Parse $GITHUB_OUTPUT the way the runner does (name<<DELIMITER blocks)."""
    outputs: dict[str, str] = {}
    lines = path.read_text().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            outputs[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
            i += 1
        else:
            i += 1
    return outputs
