"""Shared fixtures: settings and world factories, a fake clock, a running emulator, a workspace."""

from __future__ import annotations

import io
import logging
import random
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cekura_ci.client import CekuraClient, make_session
from cekura_ci.emulator.server import EmulatorServer
from cekura_ci.emulator.world import World
from cekura_ci.github import GitHub
from cekura_ci.pipeline import Gate
from cekura_ci.settings import Settings
from cekura_ci.timing import Backoff
from tests.helpers import API_KEY, FakeClock, github_env, scenario


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Entry points configure the package's loggers; give every test the same starting point."""
    loggers = [logging.getLogger(name) for name in ("cekura_ci", "urllib3")]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    yield
    for lg, (handlers, level, propagate) in zip(loggers, saved, strict=True):
        lg.handlers[:], lg.level, lg.propagate = handlers, level, propagate


@pytest.fixture(autouse=True)
def restore_signals() -> Iterator[None]:
    """The entry points take over SIGINT/SIGTERM; give them back to pytest afterwards."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def backoff() -> Backoff:
    return Backoff(rng=random.Random(7))


@pytest.fixture
def make_settings() -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        raw: dict[str, Any] = {
            "api_key": API_KEY,
            "agent_id": "42",
            "scenario_ids": "101",
            "name": "cekura-ci test run",
            "api_url": "https://api.cekura.test",
            "poll_interval": "10",
        }
        raw.update({k: str(v) if not isinstance(v, str) else v for k, v in overrides.items()})
        return Settings.from_inputs(raw)

    return make


@pytest.fixture
def make_world() -> Callable[..., World]:
    def make(scenarios: list[dict[str, Any]] | None = None, **extra: Any) -> World:
        data: dict[str, Any] = {
            "api_key": API_KEY,
            "speed": 1,
            "concurrency": 100,
            "timing": {"in_queue": 5, "scaling_up": 5, "evaluating": 10},
            "agents": [{"id": 42, "agent_name": "Test agent"}],
            "scenarios": scenarios if scenarios is not None else [scenario(101), scenario(102)],
        }
        data.update(extra)
        return World.model_validate(data)

    return make


@pytest.fixture
def serve() -> Iterator[Callable[..., EmulatorServer]]:
    """Start emulators on loopback; all are stopped after the test."""
    servers: list[EmulatorServer] = []

    def start(world: World, **kwargs: Any) -> EmulatorServer:
        server = EmulatorServer(world, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A job workspace as the runner gives it: empty output and summary files, cwd inside."""
    (tmp_path / "github_output").write_text("")
    (tmp_path / "step_summary.md").write_text("")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def make_gate(
    clock: FakeClock, backoff: Backoff, workspace: Path
) -> Callable[..., tuple[Gate, io.StringIO]]:
    def make(settings: Settings, environ: dict[str, str] | None = None) -> tuple[Gate, io.StringIO]:
        stream = io.StringIO()
        github = GitHub(environ if environ is not None else github_env(workspace), stream)
        github.mask(settings.api_key.get_secret_value())
        client = CekuraClient(
            settings.api_url,
            make_session(settings.api_key),
            timeout=settings.request_timeout,
            cancel=clock.cancel,
        )
        return Gate(settings, client, github, clock, backoff), stream

    return make
