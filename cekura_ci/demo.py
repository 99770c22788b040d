"""`cekura-ci demo`: the real gate against the local Cekura stand-in; no account, no network.

A use of both the gate and the stand-in, so it sits above them: the stand-in knows nothing of
the gate, and the gate nothing of the stand-in.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from cekura_ci.cli import run_gate
from cekura_ci.emulator import World, WorldError, demo_world, load_world, running
from cekura_ci.errors import ExitCode
from cekura_ci.timing import Clock

FREQUENCY = 3
HISTORY = 5
#: What a pull request of acme/dental-agent into main looks like to the gate: the built-in world
#: holds earlier results on main under the names cekura-ci gives a push run there.
PULL_REQUEST_CONTEXT = {
    "GITHUB_REPOSITORY": "acme/dental-agent",
    "GITHUB_EVENT_NAME": "pull_request",
    "GITHUB_REF_NAME": "7/merge",
    "GITHUB_HEAD_REF": "shorter-greeting",
    "GITHUB_BASE_REF": "main",
    "GITHUB_SHA": "c0ffee1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b",
    "GITHUB_RUN_ID": "43",
    "GITHUB_RUN_ATTEMPT": "1",
    "GITHUB_JOB": "gate",
}


def run_demo(
    world_file: str | None,
    summary_file: str,
    *,
    exit_code: bool = False,
    environ: Mapping[str, str],
    clock: Clock | None = None,
    report_file: str = "",
) -> int:
    """Serve the world, run the gate on every scenario of its first agent as a pull request into
    main would (compared with main's newest result, with main's history), say what happened.

    Returns 0 once the gate has run, whatever its verdict (the gate's own code with `exit_code`);
    a gate that could not run returns its code."""
    try:
        world: World = load_world(world_file) if world_file else demo_world()
    except WorldError as exc:
        print(f"cekura-ci demo: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE_ERROR
    agent = world.agents[0].id if world.agents else None
    scenario_ids = [s.id for s in world.scenarios if s.agent == agent]
    if not scenario_ids:
        print(
            f"cekura-ci demo: error: {world_file} holds no agent with scenarios: the demo runs "
            "the scenarios of the world's first agent.",
            file=sys.stderr,
        )
        return ExitCode.USAGE_ERROR
    # Only the debug switch is passed on: the demo never writes a real job's outputs or summary.
    # The context is a pull request's; without GITHUB_ACTIONS nothing is a workflow command.
    demo_environ = {**PULL_REQUEST_CONTEXT, "CEKURA_DEBUG": environ.get("CEKURA_DEBUG", "")}
    # A test passes a fake clock, which the stand-in and the gate then share: no real waiting.
    with running(world, **({"clock": clock.now} if clock else {})) as server:
        print(
            f"Local Cekura stand-in on {server.url}: {len(scenario_ids)} scenarios × "
            f"{FREQUENCY} repetitions.\n",
            flush=True,
        )
        raw = {
            "api_key": world.api_key,
            "agent_id": str(agent),
            "scenario_ids": ",".join(map(str, scenario_ids)),
            "frequency": str(FREQUENCY),
            "pass_threshold": "80",
            "poll_interval": "1",
            "api_url": server.url,
            "summary_file": summary_file,
            "report_file": report_file,
            "baseline": "auto",
            "history": str(HISTORY),
        }
        code = run_gate(raw, demo_environ, clock)
    if code in (ExitCode.PASSED, ExitCode.GATE_FAILED):
        word = (
            "passed"
            if code == ExitCode.PASSED
            else "failed (the demo world has a regression on purpose)"
        )
        print(f"\nDemo done: the gate {word}; in CI this step would exit {code}.")
        print(f"Open {summary_file} to read the job summary it wrote.")
        return code if exit_code else 0
    return code
