"""A local stand-in for the part of Cekura's API that CI clients use: real HTTP on loopback.

It depends on nothing of cekura-ci (only on pydantic, and PyYAML for YAML worlds), so it could be
a package of its own; the demo that runs the gate against it lives above both (`cekura_ci.demo`).

Every endpoint it serves is there because a real client calls it. Paths are accepted with and
without the trailing slash (the `cekura` SDK sends them without).

| Endpoint (fault name)                                  | Aliases served                    | Called by
|--------------------------------------------------------|-----------------------------------|-----------
| POST /test_framework/v1/scenarios/run_scenarios_livekit_v2/ (trigger) | v1 `scenarios-external/…`, `/test_framework/v2/scenarios/…` | cekura-ci; Cekura's composite action and run-batch (`-external`); SDK `scenarios.run_livekit_v2` (`-external`)
| GET  /test_framework/v1/results/{id}/ (result)         | `results-external/{id}/`          | cekura-ci; composite action; run-batch; SDK `results.get`, `results.wait`
| GET  /test_framework/v1/results/ (results)             | `results-external/`               | cekura-ci (adopting a run, baselines, history); SDK `results.list`; CLI `run list --all`
| POST /test_framework/v1/results/{id}/end_calls/ (end_calls) | `results-external/{id}/end_calls/` | cekura-ci; run-batch; SDK `results.end_calls`
| POST …/results/{id}/create_shareable_link_token/ (share_link) | `results-external/…`       | cekura-ci; composite action; run-batch; SDK (`-external`)
| GET  /test_framework/v1/runs/ (runs)                   | `runs-external/` (SDK's path, not in the document) | SDK `runs.list`
| GET  /test_framework/v1/runs/bulk/ (runs_bulk)         | `runs-external/bulk/` (SDK's path) | SDK `runs.bulk`, `results.get_runs`
| GET  /test_framework/v1/scenarios/ (scenarios)         | `scenarios-external/`             | cekura-ci (selection by tags and folders); SDK `scenarios.list`
| GET  /test_framework/v1/scenarios/{id}/ (scenario)     |                                   | cekura-ci (dry run: the scenarios exist); SDK `scenarios.get`
| GET  /test_framework/v1/aiagents/{id}/ (agent)         |                                   | cekura-ci (dry run: the agent exists)
| GET  /test_framework/v1/scenarios/export_scenarios/ (export) | `scenarios-external/…` (SDK's path) | cekura-ci (dry-run estimate); SDK `scenarios.export`
| POST /test_framework/v1/scenarios/run_scenarios_json/ (run_json) |                         | cekura-ci (`?dry_run=true` estimate); SDK `scenarios.run_json`
| GET  /test_framework/billing/info/ (billing)           |                                   | cekura-ci (credits left); SDK `billing.info`

`GET /_emulator/requests` returns the request log (see `api.LoggedRequest`), for tests that run the
stand-in in another process. The modules, one job each: `world` (what a world file declares),
`api` (routing and faults), `validation` (reading requests as DRF does), `timeline` (results and
their state at a moment), `serializers` (answer shapes), `paging` (DRF pagination), `endpoints`
(what each endpoint does), `server` (HTTP), `cli` (the command line).
"""

from .server import EmulatorServer, running
from .world import World, WorldError, demo_world, load_world

__all__ = ["EmulatorServer", "World", "WorldError", "demo_world", "load_world", "running"]
