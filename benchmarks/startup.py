"""Process start → first request to the API, in the image's layout: `python benchmarks/startup.py`.

    python benchmarks/startup.py [--rounds 9] [--python PYTHON]

Lays the package out as the Dockerfile does (the source under one directory on PYTHONPATH, with
PYTHONDONTWRITEBYTECODE=1), once without and once with bytecode compiled ahead (the image's
`compileall` step), and runs `python entrypoint.py` from each against a loopback stand-in that
notes when the first request arrives. Run it with the interpreter of a virtual environment that
holds requirements/runtime.txt (`--python`) to have the image's locked dependencies. The floor is a
process that sends the same request with urllib. Rounds are interleaved; prints min and median.
"""

from __future__ import annotations

import argparse
import json
import os
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
API_KEY = "ck_bench_5f1e2d3c4b5a69788796a5b4"
RESULT = {
    "id": 7,
    "name": "startup",
    "status": "completed",
    "runs": {"1": {"id": 1, "scenario": 1, "status": "completed", "success": True}},
}
FLOOR = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1]).read()"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    first: list[float]

    def _answer(self) -> None:
        self.first.append(time.perf_counter())
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = json.dumps(RESULT if self.command == "GET" else {**RESULT, "status": "pending"})
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        return


def layout(target: Path, compiled: bool) -> Path:
    """The image's /action: the package and the entrypoint; compiled at build or not."""
    return image_layout.build(target, compiled)


def first_request(command: list[str], env: dict[str, str], arrivals: list[float]) -> float:
    """Milliseconds from spawning `command` to its first request reaching the server."""
    arrivals.clear()
    with open(os.devnull, "wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=sink, cwd=env["HOME"])
        process.wait()
    if not arrivals:
        raise SystemExit(f"{command} made no request (exit {process.returncode})")
    return (arrivals[0] - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()

    arrivals: list[float] = []
    handler = type("Handler", (_Handler,), {"first": arrivals})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "home").mkdir()
        base = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(work / "home"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "GITHUB_ACTIONS": "true",
            "GITHUB_OUTPUT": str(work / "output"),
            "GITHUB_STEP_SUMMARY": str(work / "summary.md"),
            "INPUT_API_KEY": API_KEY,
            "INPUT_API_URL": url,
        }
        trigger = {"INPUT_AGENT_ID": "42", "INPUT_SCENARIO_IDS": "101", "INPUT_NAME": "startup"}
        cases: dict[str, tuple[list[str], dict[str, str]]] = {
            "floor: urllib, same request": (
                [args.python, "-c", FLOOR, f"{url}/test_framework/v1/results/7/"],
                base,
            ),
        }
        for compiled in (False, True):
            where = layout(work / ("compiled" if compiled else "source"), compiled)
            env = {**base, "PYTHONPATH": str(where)}
            name = "bytecode compiled at build" if compiled else "no bytecode (0.1.0 image)"
            entry = [args.python, str(where / "entrypoint.py")]
            cases[f"{name}, start a run"] = (entry, {**env, **trigger})
            cases[f"{name}, result_id"] = (entry, {**env, "INPUT_RESULT_ID": "7"})
        figures: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, (command, env) in cases.items():
                figures[name].append(first_request(command, env, arrivals))
    server.shutdown()

    print(f"process start → first request, ms, {args.rounds} rounds (target ≤ 300)")
    print("| process | min | median |")
    print("|---|---:|---:|")
    for name, values in figures.items():
        print(f"| {name} | {min(values):.0f} | {statistics.median(values):.0f} |")


if __name__ == "__main__":
    main()
