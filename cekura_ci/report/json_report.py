"""The JSON report: the whole verdict, versioned by `schema_version`, for later steps and dashboards."""

from __future__ import annotations

from cekura_ci.verdict import Verdict


def render_json(verdict: Verdict) -> str:
    return verdict.model_dump_json(indent=2) + "\n"
