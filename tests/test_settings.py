"""Inputs: parsed as the runner hands them over, refused with a message that names the input."""

from __future__ import annotations

import pytest

from cekura_ci.settings import Settings, SettingsError, read_inputs

BASE = {"api_key": "k", "agent_id": "42", "scenario_ids": "101"}


def settings(**raw: str) -> Settings:
    return Settings.from_inputs({**BASE, **raw})


def problems(**raw: str) -> list[tuple[str, str]]:
    with pytest.raises(SettingsError) as info:
        settings(**raw)
    return info.value.problems


@pytest.mark.parametrize(
    "text",
    [
        "101,102,103",
        "101 102 103",
        "101\n102\n103",
        "- 101\n- 102\n- 103\n",
        "[101, 102, 103]",
        " 101 ,102,\n103 ",
    ],
)
def test_scenario_ids_when_given_in_any_list_form_are_read(text: str) -> None:
    """Commas, spaces, newlines, a YAML block list and a flow list all work."""
    assert settings(scenario_ids=text).scenario_ids == (101, 102, 103)


def test_scenario_ids_when_duplicated_are_refused_naming_the_id() -> None:
    """A duplicate id is refused with the id in the message."""
    [(name, why)] = problems(scenario_ids="101, 102, 101")
    assert name == "scenario_ids" and "101 is listed twice" in why


@pytest.mark.parametrize(
    ("text", "expected"), [("95", 95.0), ("95%", 95.0), (" 66.5 % ", 66.5), ("0", 0.0)]
)
def test_pass_threshold_when_a_percentage_is_read(text: str, expected: float) -> None:
    """`95` and `95%` are the same threshold."""
    assert settings(pass_threshold=text).pass_threshold == expected


def test_defaults_when_inputs_are_empty_strings_apply() -> None:
    """The runner passes declared inputs as empty strings when unset; defaults then apply."""
    s = Settings.from_inputs(
        {**BASE, "frequency": "", "pass_threshold": "", "livekit_data": "", "mock_tool_names": ""}
    )
    assert (s.frequency, s.pass_threshold, s.livekit_data, s.mock_tool_names) == (
        1,
        100.0,
        None,
        None,
    )


def test_optional_lists_when_given_are_read() -> None:
    """Personalities, test profiles and mock tools are read as lists."""
    s = settings(
        personality_ids="3, 7", test_profile_ids="20", mock_tool_names="book_slot, cancel_slot"
    )
    assert (
        s.personality_ids == (3, 7)
        and s.test_profile_ids == (20,)
        and s.mock_tool_names == ("book_slot", "cancel_slot")
    )


def test_mock_tool_names_when_an_empty_list_is_kept_empty() -> None:
    """`[]` means "mock none", which differs from not giving the input."""
    assert settings(mock_tool_names="[]").mock_tool_names == ()


def test_livekit_data_when_a_json_object_is_read() -> None:
    """livekit_data is a JSON object."""
    s = settings(livekit_data='{"agent_name": "kit", "config": {"empty_timeout": 300}}')
    assert s.livekit_data == {"agent_name": "kit", "config": {"empty_timeout": 300}}


def test_api_key_when_pasted_with_a_newline_is_stripped_and_never_shown() -> None:
    """A trailing newline is forgiven; neither repr nor str shows the key."""
    s = settings(api_key="  secret-value\n")
    assert s.api_key.get_secret_value() == "secret-value"
    assert "secret-value" not in repr(s) and "secret-value" not in str(s)


def test_api_key_when_empty_says_it_is_empty() -> None:
    """An empty key is named as such; why (a missing secret, a fork) is the error summary's to say."""
    [(name, why)] = problems(api_key="")
    assert name == "api_key" and why == "expected a Cekura API key, got an empty value"


BAD_INPUTS = [
    ("agent_id", "abc"),
    ("agent_id", "-4"),
    ("agent_id", "0"),
    ("scenario_ids", "101, x"),
    ("scenario_ids", "101, -3"),
    ("scenario_ids", "1.5"),
    ("frequency", "0"),
    ("frequency", "101"),
    ("frequency", "two"),
    ("pass_threshold", "150"),
    ("pass_threshold", "ten"),
    ("pass_threshold", "-1"),
    ("pass_threshold", "nan"),
    ("scenario_pass_threshold", "101%"),
    ("livekit_data", "[1, 2]"),
    ("livekit_data", "{not json"),
    ("livekit_data", '{"agent_name": 5}'),
    ("livekit_data", '{"api_secret": "x"}'),
    ("timeout", "-5"),
    ("timeout", "0"),
    ("poll_interval", "0.5"),
    ("max_outage", "soon"),
    ("api_url", "ftp://api.cekura.ai"),
    ("api_url", "api.cekura.ai"),
    ("api_url", "https://"),
    ("end_calls_on_cancel", "yes"),
    ("share_link", "1"),
    ("infra_failures", "skip"),
    ("concurrency_limit", "0"),
    ("result_id", "latest"),
    ("share_link_ttl_hours", "0"),
    ("personality_ids", "a,b"),
    ("name", "x" * 300),
]


@pytest.mark.parametrize(("name", "value"), BAD_INPUTS)
def test_bad_input_when_given_is_refused_naming_the_input(name: str, value: str) -> None:
    """Each malformed input is refused with its own name and what was given."""
    [(problem_name, why)] = problems(**{name: value})
    assert problem_name == name
    assert "expected" in why
    assert f"got {value[:20]!r}"[:-1] in why or len(value) > 60


def test_agent_and_scenarios_when_missing_without_result_id_are_refused() -> None:
    """A run needs an agent and scenarios, unless it waits for an existing result."""
    with pytest.raises(SettingsError) as info:
        Settings.from_inputs({"api_key": "k", "scenario_ids": "1"})
    assert info.value.problems[0][0] == "agent_id"
    with pytest.raises(SettingsError) as info:
        Settings.from_inputs({"api_key": "k", "agent_id": "1"})
    assert info.value.problems[0][0] == "scenario_ids"
    assert Settings.from_inputs({"api_key": "k", "result_id": "77"}).result_id == 77


def test_unknown_input_when_given_is_refused() -> None:
    """A misspelt input is not silently ignored."""
    assert problems(pass_treshold="90") == [("pass_treshold", "is not an input of cekura-ci")]


def test_read_inputs_when_prefixed_variables_are_set_reads_every_input() -> None:
    """The action reads INPUT_<NAME>, the CLI CEKURA_<NAME>: one function for both."""
    env = {
        "INPUT_API_KEY": "k",
        "INPUT_AGENT_ID": "9",
        "INPUT_SCENARIO_IDS": "5",
        "INPUT_FREQUENCY": "3",
        "CEKURA_FREQUENCY": "7",
    }
    raw = read_inputs(env, "INPUT_")
    assert set(raw) == set(Settings.input_names())
    s = Settings.from_inputs(raw)
    assert (s.agent_id, s.scenario_ids, s.frequency) == (9, (5,), 3)
    assert read_inputs(env, "CEKURA_")["frequency"] == "7"


def test_default_text_when_asked_is_what_the_runner_passes() -> None:
    """Defaults as strings: booleans lower-case, numbers without a trailing .0, none as empty."""
    assert Settings.default_text("end_calls_on_cancel") == "true"
    assert Settings.default_text("timeout") == "3600"
    assert Settings.default_text("agent_id") == ""
    assert Settings.default_text("api_key") == ""
