"""`cekura-ci emulator` serves the stand-in; `cekura-ci demo` runs the real gate against it."""

from __future__ import annotations

import argparse
import signal
from collections.abc import Mapping

from cekura_ci.cli import run_gate
from cekura_ci.emulator.server import EmulatorServer, running
from cekura_ci.emulator.world import World, demo_world, load_world
from cekura_ci.errors import ExitCode


def _world(path: str | None) -> World:
    return load_world(path) if path else demo_world()


def serve(args: argparse.Namespace) -> int:
    world = _world(args.world)
    updates = {k: v for k, v in (("api_key", args.api_key), ("speed", args.speed)) if v is not None}
    world = world.model_copy(update=updates)
    server = EmulatorServer(world, host=args.host, port=args.port)

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(
        f"Cekura emulator listening on {server.url} (API key {world.api_key!r}, "
        f"{len(world.scenarios)} scenarios, speed x{world.speed:g}). Ctrl-C stops it.",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def demo(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    world = _world(args.world)
    agent = world.agents[0].id
    scenario_ids = [s.id for s in world.scenarios if s.agent == agent]
    # Only the debug switch is passed on: the demo never writes a real job's outputs or summary.
    demo_environ = {"CEKURA_DEBUG": environ.get("CEKURA_DEBUG", "")}
    with running(world) as server:
        print(
            f"Local Cekura stand-in on {server.url}: {len(scenario_ids)} scenarios × 3 repetitions.\n",
            flush=True,
        )
        raw = {
            "api_key": world.api_key,
            "agent_id": str(agent),
            "scenario_ids": ",".join(map(str, scenario_ids)),
            "frequency": "3",
            "pass_threshold": "80",
            "poll_interval": "1",
            "api_url": server.url,
            "summary_file": args.summary_file,
            "name": "cekura-ci demo",
        }
        code = run_gate(raw, demo_environ)
    if code in (ExitCode.PASSED, ExitCode.GATE_FAILED):
        word = (
            "passed"
            if code == ExitCode.PASSED
            else "failed (the demo world has a regression on purpose)"
        )
        print(f"\nDemo done: the gate {word}; in CI this step would exit {code}.")
        print(f"Open {args.summary_file} to read the job summary it wrote.")
        return code if args.exit_code else 0
    return code
