"""API answers are read tolerantly: string counts, runs keyed by id, unknown statuses and fields."""

from __future__ import annotations

from cekura_ci.models import Result


def test_result_when_runs_are_an_object_keyed_by_id_reads_every_run() -> None:
    """The detail keys runs by run-id strings; ids come from the keys when runs omit them."""
    result = Result.model_validate(
        {
            "id": 1,
            "status": "completed",
            "runs": {"11": {"status": "completed", "success": True}, "12": {"id": 12}},
        }
    )
    assert [r.id for r in result.runs] == [11, 12]


def test_result_when_runs_are_a_list_reads_every_run() -> None:
    """The trigger answer and the list give runs as an array."""
    result = Result.model_validate({"id": 1, "runs": [{"id": 5, "status": "pending"}]})
    assert [(r.id, r.status) for r in result.runs] == [(5, "pending")]


def test_counts_when_typed_as_strings_are_read_as_numbers() -> None:
    """`"12"` and `12` are both counts; garbage is no count, not a refusal."""
    result = Result.model_validate(
        {"id": 1, "total_runs_count": "12", "success_runs_count": 3, "failed_runs_count": "n/a"}
    )
    assert (result.total_runs_count, result.success_runs_count, result.failed_runs_count) == (
        12,
        3,
        None,
    )


def test_status_when_unknown_is_kept_and_not_terminal() -> None:
    """A status Cekura adds later means keep waiting."""
    result = Result.model_validate({"id": 1, "status": "Warming_Up"})
    assert result.status == "warming_up" and not result.is_terminal


def test_id_lists_when_given_as_json_text_or_lists_are_read() -> None:
    """not_connected_runs is typed as a string in the schema; lists and JSON text both work."""
    a = Result.model_validate(
        {"id": 1, "not_connected_runs": "[3, 4]", "failed_infrastructure_runs": [5]}
    )
    b = Result.model_validate(
        {"id": 1, "not_connected_runs": None, "failed_infrastructure_runs": "oops"}
    )
    assert (a.not_connected_runs, a.failed_infrastructure_runs) == ([3, 4], [5])
    assert (b.not_connected_runs, b.failed_infrastructure_runs) == (None, None)


def test_runs_when_malformed_entries_are_present_keep_the_readable_ones() -> None:
    """A run without an id or that is not an object is left out, not fatal."""
    result = Result.model_validate(
        {"id": 1, "runs": {"x": {"status": "completed"}, "7": "junk", "8": {"status": "failed"}}}
    )
    assert [r.id for r in result.runs] == [8]


def test_run_fields_when_oddly_typed_are_tolerated() -> None:
    """success as text, metrics with a string explanation, expected outcome not an object."""
    result = Result.model_validate(
        {
            "id": 1,
            "runs": {
                "9": {
                    "success": "false",
                    "expected_outcome": "n/a",
                    "evaluation": {
                        "metrics": [
                            {"name": "M", "type": "binary", "score": "0", "explanation": "why"},
                            3,
                        ]
                    },
                    "extra_field": {"anything": True},
                }
            },
        }
    )
    run = result.runs[0]
    assert run.success is False and run.expected_outcome is None
    assert (
        run.evaluation is not None
        and run.evaluation.metrics[0].score == 0
        and run.evaluation.metrics[0].explanation == ["why"]
    )


def test_progress_when_runs_are_mixed_counts_from_runs() -> None:
    """Progress counts runs, not the API's counters."""
    result = Result.model_validate(
        {
            "id": 1,
            "success_runs_count": "99",
            "runs": {
                "1": {"status": "completed", "success": True},
                "2": {"status": "completed", "success": False},
                "3": {"status": "running"},
                "4": {"status": "failed"},
            },
        }
    )
    assert result.progress() == (4, 3, 1, 2)
