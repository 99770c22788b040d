"""What reading progress from the results list saves on a 10,000-run result, per poll.

    python benchmarks/progress_view.py

While a large result runs, the gate polls the result's row in the results list (status and each
run's status) instead of its detail (every run with its transcript and scores), and fetches the
detail once at the end. This prints both answers' sizes and the time the client takes to read each
(`CekuraClient._parse`, min of 5), for the finished 10,000-run result of big_result.py; a row
is what the stand-in serves for the results list.
"""

from __future__ import annotations

import json
import time

import requests
from big_result import big_result

from cekura_ci.client import CekuraClient
from cekura_ci.models import Result, ResultPage

ROW_FIELDS = ("id", "status", "scenario", "scenario_name", "success")


def answer(body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code, response._content = 200, body
    return response


def read(body: bytes, model: type[Result] | type[ResultPage]) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        CekuraClient._parse(answer(body), model)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    detail = big_result()
    data = json.loads(detail)
    row = {key: value for key, value in data.items() if key != "runs"}
    row["runs"] = {
        key: {field: run[field] for field in ROW_FIELDS} for key, run in data["runs"].items()
    }
    page = json.dumps({"count": 1, "next": None, "results": [row]}, ensure_ascii=False).encode()
    del data
    print("| one poll of a 10,000-run result | bytes | client reads it in |")
    print("|---|---:|---:|")
    print(
        f"| detail (`GET /results/{{id}}/`) | {len(detail):,} | {read(detail, Result) * 1000:.0f} ms |"
    )
    print(
        f"| row (`GET /results/?search=…`) | {len(page):,} | {read(page, ResultPage) * 1000:.0f} ms |"
    )


if __name__ == "__main__":
    main()
