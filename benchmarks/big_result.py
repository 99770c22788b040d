"""The biggest result a step can ask for, read by the whole action vs. by a bare urllib + json.loads.

    python benchmarks/big_result.py [--rounds 5] [--python PYTHON] [--junit]

Builds a 10,000-run result (100 scenarios x frequency 100, a ~2 KB transcript per run that had a
conversation), serves it from a static loopback server, and runs, interleaved, round after round:

- the floor: a separate process that fetches the body with urllib and parses it with json.loads;
- `python entrypoint.py` as the runner runs it, attached to the result with `result_id` (so nothing
  waits), writing the summary, outputs and log to a temporary workspace (and, with --junit, the
  JUnit and JSON reports too).

Each process is timed from spawn to exit by the same code, and its peak memory is the kernel's
maximum resident set size for it (wait4). Prints min and median of each, the ratio of the action to
the floor, and peak memory as a multiple of the body's size.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import image_layout  # benchmarks/ is on sys.path when a script here runs

ROOT = Path(__file__).resolve().parent.parent
RESULT_ID = 4242
API_KEY = "ck_bench_5f1e2d3c4b5a69788796a5b4"
FLOOR = "import json, sys, urllib.request; json.loads(urllib.request.urlopen(sys.argv[1]).read())"

_WORDS = (
    "appointment", "tuesday", "morning", "confirm", "booking", "reschedule", "cancel", "slot",
    "doctor", "available", "address", "phone", "number", "insurance", "card", "thanks", "please",
    "sorry", "moment", "check", "calendar", "afternoon",
)  # fmt: skip


def _sentence(rng: random.Random, length: int) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < length:
        words.append(rng.choice(_WORDS))
    return " ".join(words).capitalize() + "."


def big_result(runs: int = 10_000, scenarios: int = 100, transcript_bytes: int = 2_000) -> bytes:
    """The detail of a finished result as GET /results/{id}/ answers it, as UTF-8 JSON bytes.

    About 85% of runs pass, 10% fail their evaluation, 5% never connect (no transcript). One
    transcript form per run (`transcript_object`): the real detail also carries the text form,
    which would only make the body larger and the ratios kinder.
    """
    rng = random.Random(20250101)
    detail_runs: dict[str, dict[str, object]] = {}
    turns = 12
    for i in range(1, runs + 1):
        scenario = 1000 + (i - 1) % scenarios
        draw = rng.random()
        outcome = "pass" if draw < 0.85 else "fail" if draw < 0.95 else "error"
        conversation = (
            []
            if outcome == "error"
            else [
                {
                    "role": "Main Agent" if turn % 2 == 0 else "Testing Agent",
                    "content": _sentence(rng, transcript_bytes // turns - 60),
                    "timestamp": float(turn * 7),
                    "normalized_content": "",
                    "comparison_spans": [],
                }
                for turn in range(turns)
            ]
        )
        passed = outcome == "pass"
        detail_runs[str(i)] = {
            "id": i,
            "provider_call_id": f"call_{i:08x}",
            "scenario": scenario,
            "scenario_name": f"Scenario {scenario}: caller books, moves and cancels an appointment",
            "personality": 3,
            "personality_name": "Normal Female",
            "agent": 42,
            "status": "failed" if outcome == "error" else "completed",
            "success": passed,
            "evaluation_status": "success" if passed else "failure",
            "error_message": "LiveKit room closed before the agent joined"
            if outcome == "error"
            else "",
            "duration": "02:10",
            "timestamp": "2025-01-01T10:00:00Z",
            "executed_at": "2025-01-01T10:00:05Z",
            "outbound_number": "",
            "inbound_number": "+15550100",
            "metadata": {"ended_reason": "customer-ended-call", "ringing_duration": 1.2},
            "test_profile_data": None,
            "expected_outcome": {
                "score": 100 if passed else 0,
                "explanation": ["✅ Greeted the caller"]
                + ([] if passed else ["❌ Never confirmed the new slot"]),
                "outcome_alignments": [],
            },
            "evaluation": {
                "metrics": [
                    {
                        "id": 7001,
                        "name": "Slot confirmed",
                        "type": "binary",
                        "score": 5 if outcome != "fail" else 0,
                        "explanation": ["Requirement met."] if passed else ["No confirmation."],
                        "extra": {},
                    },
                    {
                        "id": 7002,
                        "name": "Latency (ms)",
                        "type": "numeric",
                        "score": 600 + i % 300,
                        "explanation": [],
                        "extra": {"percentiles": {"p50": 640}},
                    },
                ]
            },
            "transcript": "",
            "transcript_object": conversation,
        }
    success = sum(1 for r in detail_runs.values() if r["success"])
    detail = {
        "id": RESULT_ID,
        "name": "cekura-ci benchmark: 100 scenarios x 100",
        "agent": 42,
        "status": "completed",
        "success_rate": round(100 * success / runs, 2),
        "runs": detail_runs,
        "total_runs_count": str(runs),
        "completed_runs_count": str(runs),
        "success_runs_count": str(success),
        "failed_runs_count": str(runs - success),
        "not_connected_runs": json.dumps(
            [r["id"] for r in detail_runs.values() if not r["transcript_object"]]
        ),
        "total_duration": "361:40",
        "created_at": "2025-01-01T10:00:00Z",
    }
    return json.dumps(detail, ensure_ascii=False).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        return


def serve(body: bytes) -> ThreadingHTTPServer:
    handler = type("Handler", (_Handler,), {"body": body})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def measure(command: list[str], env: dict[str, str], cwd: str) -> tuple[float, float]:
    """(wall seconds from spawn to exit, peak RSS in MiB) of one process; it must exit 0 or 1."""
    with open(os.devnull, "wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=sink, stderr=sink)
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{command[1:3]} exited {code}")
    return wall, usage.ru_maxrss / 1024


def serve_forever() -> None:
    """The server process: build the body, serve it, print its port and size, wait to be ended."""
    body = big_result()
    server = serve(body)
    print(server.server_address[1], len(body), flush=True)
    threading.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--python", default=sys.executable, help="interpreter of both processes")
    parser.add_argument("--junit", action="store_true", help="also write JUnit and JSON reports")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_forever()
        return

    # The action runs from the image's layout (bytecode and templates compiled at build).
    action = image_layout.build(Path(tempfile.mkdtemp()) / "action", python=args.python)
    # The body is built and served by a process of its own: a child's peak memory as the kernel
    # reports it starts from its parent's at the fork, so the measuring process must stay small.
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
    )
    if server.stdout is None:
        raise SystemExit("no server")
    port, size = (int(word) for word in server.stdout.readline().split())
    size_mib = size / 2**20
    url = f"http://127.0.0.1:{port}"
    print(f"body: {size:,} bytes ({size_mib:.1f} MiB), 10,000 runs; {args.rounds} rounds")

    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
    base_env |= {"PYTHONPATH": str(action), "PYTHONDONTWRITEBYTECODE": "1"}
    floor_cmd = [args.python, "-c", FLOOR, f"{url}/test_framework/v1/results/{RESULT_ID}/"]
    gate_cmd = [args.python, str(action / "entrypoint.py")]
    figures: dict[str, list[tuple[float, float]]] = {"floor": [], "action": []}
    try:
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory() as workspace:
                env = {
                    **base_env,
                    "GITHUB_ACTIONS": "true",
                    "GITHUB_OUTPUT": f"{workspace}/output",
                    "GITHUB_STEP_SUMMARY": f"{workspace}/summary.md",
                    "INPUT_API_KEY": API_KEY,
                    "INPUT_API_URL": url,
                    "INPUT_RESULT_ID": str(RESULT_ID),
                    "INPUT_PASS_THRESHOLD": "80",
                    "INPUT_SUMMARY_FILE": "cekura-summary.md",
                }
                if args.junit:
                    env |= {"INPUT_JUNIT_FILE": "junit.xml", "INPUT_REPORT_FILE": "report.json"}
                figures["floor"].append(measure(floor_cmd, base_env, workspace))
                figures["action"].append(measure(gate_cmd, env, workspace))
    finally:
        server.terminate()
        server.wait()

    print("| process | wall min | median | peak RSS min | median |")
    print("|---|---:|---:|---:|---:|")
    for name, rows in figures.items():
        walls, peaks = [w for w, _ in rows], [p for _, p in rows]
        print(
            f"| {name} | {min(walls):.2f} s | {statistics.median(walls):.2f} s | "
            f"{min(peaks):.0f} MiB | {statistics.median(peaks):.0f} MiB |"
        )
    ratios = [a[0] / f[0] for a, f in zip(figures["action"], figures["floor"], strict=True)]
    peaks = [p / size_mib for _, p in figures["action"]]
    print(
        f"action / floor, wall, per round: min {min(ratios):.2f}x, median "
        f"{statistics.median(ratios):.2f}x (target <= 2x)"
    )
    print(
        f"action peak RSS / body: min {min(peaks):.2f}x, median {statistics.median(peaks):.2f}x "
        "(target <= 3x)"
    )


if __name__ == "__main__":
    main()
