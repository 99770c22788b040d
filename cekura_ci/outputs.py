"""The step's outputs, declared once: action.yml's `outputs` and the README's table come from here,
and the gate sets exactly these."""

from __future__ import annotations

OUTPUTS: dict[str, str] = {
    "result_id": "Id of the Cekura result (set as soon as the run is started).",
    "status": "The result's status as Cekura last reported it: terminal (completed, failed, "
    "timeout, cancelled) once it ended; on a timeout, cancellation or outage the last status seen "
    "(e.g. running), or unknown when none was.",
    "outcome": "The gate in a word: passed, failed, error, timeout or cancelled.",
    "passed": "true when the gate passed, false otherwise.",
    "pass_rate": "Percent of counted runs that passed, with two decimals (after a timeout, "
    "cancellation or outage: of the runs that had finished).",
    "total_runs": "Number of runs in the result.",
    "passed_runs": "Number of runs that passed.",
    "failed_runs": "Number of runs that failed (agent and infrastructure failures); runs not "
    "finished when waiting stopped are neither passed nor failed.",
    "infra_failed_runs": "Number of runs that failed for infrastructure reasons (never connected, "
    "errored before the conversation).",
    "failed_scenarios": "JSON list of the ids of scenarios that failed (no run passed, or below "
    "scenario_pass_threshold).",
    "flaky_scenarios": "JSON list of the ids of scenarios with both passing and failing runs.",
    "baseline_result_id": "Id of the result this one was compared with, when a baseline was "
    "found (empty otherwise).",
    "regressed_scenarios": "JSON list of the ids of scenarios that regressed against the "
    "baseline (met their bar there, miss it now).",
    "fixed_scenarios": "JSON list of the ids of scenarios that missed their bar on the baseline "
    "and meet it now.",
    "summary_file": "Path of the Markdown summary file.",
    "junit_file": "Path of the JUnit XML report, when junit_file was given.",
    "report_file": "Path of the JSON report, when report_file was given.",
    "result_url": "Public share link of the result, when share_link is true.",
    "planned_runs": "Number of calls the run request places (scenarios × frequency × personalities × "
    "test profiles), set before the run starts; in a dry run, the calls it would place.",
    "estimated_cost": "Cekura's estimated cost of the planned calls in credits, as a decimal such as "
    "12.50; set by a dry run, empty when Cekura could not price it.",
    "comment_url": "URL of the pull-request comment written or updated, when comment is not off "
    "and it could be written.",
}
