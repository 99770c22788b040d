"""Inputs: parsed as the runner hands them over, refused with a message that names the input."""

from __future__ import annotations

import pytest

from cekura_ci.settings import Settings, SettingsError, read_inputs

BASE = {"api_key": "ck_test_settings_key", "agent_id": "42", "scenario_ids": "101"}


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


@pytest.mark.parametrize(
    "text",
    ["- book_slot\n- cancel_slot\n", "[book_slot, cancel_slot]", "'book_slot', \"cancel_slot\""],
)
def test_mock_tool_names_when_given_as_a_yaml_list_is_read(text: str) -> None:
    """A YAML block or flow list pasted into the input reads like a comma list."""
    assert settings(mock_tool_names=text).mock_tool_names == ("book_slot", "cancel_slot")


def test_mock_tool_names_when_an_empty_list_is_kept_empty() -> None:
    """`[]` means "mock none", which differs from not giving the input."""
    assert settings(mock_tool_names="[]").mock_tool_names == ()


def test_livekit_data_when_a_json_object_is_read() -> None:
    """livekit_data is a JSON object."""
    s = settings(livekit_data='{"agent_name": "kit", "config": {"empty_timeout": 300}}')
    assert s.livekit_data == {"agent_name": "kit", "config": {"empty_timeout": 300}}


def test_api_key_when_pasted_with_a_newline_is_stripped_and_never_shown() -> None:
    """A trailing newline is forgiven; neither repr nor str shows the key."""
    s = settings(api_key="  secret-value-0123456\n")
    assert s.api_key.get_secret_value() == "secret-value-0123456"
    assert "secret-value" not in repr(s) and "secret-value" not in str(s)


@pytest.mark.parametrize("key", ["1", "short-key-1", "1234567890123456789"])
def test_api_key_when_too_short_or_without_letters_is_refused_without_echo(key: str) -> None:
    """A key like `1` would make redaction rewrite every digit 1 of every report: refused."""
    [(name, why)] = problems(api_key=key)
    assert name == "api_key" and "too short" in why and "got" not in why


@pytest.mark.parametrize(
    "key",
    ["ck_live_ключ_0123456789", "ck_live_\u00e9t\u00e9_0123456789", 'ck_live_"quoted"_012345'],
)
def test_api_key_when_not_printable_ascii_is_refused_without_echo(key: str) -> None:
    """A non-Latin-1 character crashed at send time and showed part of the key: refused first."""
    [(name, why)] = problems(api_key=key)
    assert name == "api_key" and "printable ASCII" in why
    assert not any(part in why for part in key.split("_") if len(part) > 3)


@pytest.mark.parametrize(
    "url",
    [
        "http://api.cekura.ai",
        "http://10.0.0.5:8080",
        "http://cekura.internal/",
        "http://127.evil.example",
        "http://127.0.0.1.nip.io:8080",
        "http://localhost.evil.example",
        "http://api.localhost:8080",
    ],
)
def test_api_url_when_plain_http_to_another_host_is_refused(url: str) -> None:
    """The key would travel in clear text: only https, or http to this machine."""
    [(name, why)] = problems(api_url=url)
    assert name == "api_url" and "clear text" in why


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://localhost:9000/",
        "http://[::1]:8080",
        "https://api.cekura.ai",
    ],
)
def test_api_url_when_https_or_loopback_http_is_accepted(url: str) -> None:
    assert settings(api_url=url).api_url == url.rstrip("/")


@pytest.mark.parametrize("url", ["http://a b", "http://127.0.0.1:99999", "https://api.cekura.ai:0"])
def test_api_url_when_it_cannot_be_a_url_is_refused(url: str) -> None:
    """An invalid URL is an input error, found before any request (not an outage later)."""
    [(name, why)] = problems(api_url=url)
    assert name == "api_url" and "expected" in why


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("timeout", "1e10"),
        ("max_outage", "1e300"),
        ("request_timeout", "1e300"),
        ("poll_interval", "1e10"),
    ],
)
def test_seconds_when_astronomically_large_are_refused_with_the_bound(
    name: str, value: str
) -> None:
    """1e10 s overflowed the clock: every duration has an upper bound, stated in the message."""
    [(problem, why)] = problems(**{name: value})
    assert problem == name and ("at most" in why or " to " in why)


def test_livekit_data_when_nested_thousands_deep_is_refused() -> None:
    """5,000 levels raised RecursionError deep in the stack: refused as an input error."""
    deep = "[" * 5000 + "]" * 5000
    [(name, why)] = problems(livekit_data='{"config": ' + deep + "}")
    assert name == "livekit_data" and "nested at most 32 levels" in why
    shallow_but_too_deep = '{"config": ' + "[" * 40 + "]" * 40 + "}"
    [(name, why)] = problems(livekit_data=shallow_but_too_deep)
    assert "nested at most 32 levels" in why


@pytest.mark.parametrize("value", ['{"config": {"x": NaN}}', '{"config": {"x": Infinity}}'])
def test_livekit_data_when_it_holds_nan_is_refused(value: str) -> None:
    """NaN is not JSON: the request body could not be encoded, so it is refused up front."""
    [(name, _why)] = problems(livekit_data=value)
    assert name == "livekit_data"


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
        Settings.from_inputs({"api_key": "ck_test_settings_key", "scenario_ids": "1"})
    assert info.value.problems[0][0] == "agent_id"
    with pytest.raises(SettingsError) as info:
        Settings.from_inputs({"api_key": "ck_test_settings_key", "agent_id": "1"})
    assert info.value.problems[0][0] == "scenario_ids"
    assert (
        Settings.from_inputs({"api_key": "ck_test_settings_key", "result_id": "77"}).result_id == 77
    )


def test_unknown_input_when_given_is_refused() -> None:
    """A misspelt input is not silently ignored."""
    assert problems(pass_treshold="90") == [("pass_treshold", "is not an input of cekura-ci")]


def test_read_inputs_when_prefixed_variables_are_set_reads_every_input() -> None:
    """The action reads INPUT_<NAME>, the CLI CEKURA_<NAME>: one function for both."""
    env = {
        "INPUT_API_KEY": "ck_test_input_key_01",
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


# --- comparison with the base branch ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("auto", "auto"),
        (" AUTO ", "auto"),
        ("812", "812"),
        ("+0812", "812"),
        ("artifacts/main.json", "artifacts/main.json"),
        ("./812", "./812"),
    ],
)
def test_baseline_when_given_is_auto_a_result_id_or_a_path(text: str, expected: str) -> None:
    """A number is a result id; a file named like one is written `./812`."""
    assert settings(baseline=text).baseline == expected


def test_comparison_inputs_when_unset_take_their_defaults() -> None:
    s = settings(baseline="", gate_on="", history="", baseline_max_age_days="")
    assert (s.baseline, s.gate_on, s.history, s.baseline_max_age_days) == ("", "auto", 0, 14)
    assert (s.regression_max_p, s.baseline_branch) == (None, "")


@pytest.mark.parametrize(
    ("raw", "name", "expected"),
    [
        ({"baseline": "0"}, "baseline", "positive whole number"),
        ({"baseline": "a\nb"}, "baseline", "expected a file path"),
        ({"history": "31"}, "history", "from 0 to 30"),
        ({"history": "-1"}, "history", "from 0 to 30"),
        ({"baseline_max_age_days": "0"}, "baseline_max_age_days", "from 1 to 3650"),
        ({"regression_max_p": "0"}, "regression_max_p", "above 0 and at most 1"),
        ({"regression_max_p": "5%"}, "regression_max_p", "above 0 and at most 1"),
        ({"gate_on": "regression"}, "gate_on", "expected one of"),
        ({"baseline_branch": "my branch"}, "baseline_branch", "one word"),
    ],
)
def test_comparison_inputs_when_wrong_are_refused_naming_the_input(raw, name, expected) -> None:
    [(refused, why)] = problems(**raw)
    assert refused == name and expected in why


@pytest.mark.parametrize("gate_on", ["regressions", "both"])
def test_gate_on_regressions_without_a_baseline_is_refused_before_anything_is_sent(
    gate_on: str,
) -> None:
    """It could never compare: said before a run is paid for."""
    [(name, why)] = problems(gate_on=gate_on)
    assert name == "gate_on" and "needs a baseline" in why
    assert settings(gate_on=gate_on, baseline="auto").gate_on == gate_on


def test_baseline_branch_when_given_as_a_ref_keeps_the_branch() -> None:
    assert settings(baseline_branch="refs/heads/release/1.2").baseline_branch == "release/1.2"


def test_regression_max_p_when_given_is_a_probability() -> None:
    assert settings(regression_max_p="0.05").regression_max_p == 0.05


@pytest.mark.parametrize(
    ("name", "edge", "past"),
    [
        ("frequency", "100", "101"),
        ("timeout", "86400", "86400.5"),
        ("max_outage", "86400", "86401"),
        ("request_timeout", "600", "600.1"),
        ("poll_interval", "3600", "3601"),
        ("share_link_ttl_hours", "8760", "8761"),
        ("history", "30", "31"),
    ],
)
def test_bounds_when_at_the_edge_accept_it_and_refuse_past_it(
    name: str, edge: str, past: str
) -> None:
    """Each upper bound is inclusive: the stated maximum is accepted, anything above refused."""
    assert float(getattr(settings(**{name: edge}), name)) == float(edge)
    [(problem, _why)] = problems(**{name: past})
    assert problem == name


@pytest.mark.parametrize(
    ("name", "edge", "below"), [("request_timeout", "1", "0.99"), ("poll_interval", "1", "0.5")]
)
def test_bounds_when_at_the_lower_edge_accept_it_and_refuse_below(
    name: str, edge: str, below: str
) -> None:
    assert float(getattr(settings(**{name: edge}), name)) == float(edge)
    [(problem, _why)] = problems(**{name: below})
    assert problem == name


def test_timeout_when_zero_is_refused_but_a_fraction_above_it_is_accepted() -> None:
    """`timeout` and `max_outage` must be above 0 (exclusive), however little."""
    assert problems(timeout="0") and problems(max_outage="0")
    assert settings(timeout="0.5").timeout == 0.5 and settings(max_outage="0.5").max_outage == 0.5


def test_livekit_data_when_nested_exactly_32_levels_is_accepted() -> None:
    """The bound is 32 levels, counted from the object itself: 32 pass, 33 do not."""

    def nested(levels: int) -> str:
        return '{"config": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"

    assert settings(livekit_data=nested(32)).livekit_data is not None
    [(name, why)] = problems(livekit_data=nested(33))
    assert name == "livekit_data" and "32 levels" in why


@pytest.mark.parametrize("url", ["https://api.cekura.ai/?x=1", "https://api.cekura.ai/#top"])
def test_api_url_when_it_has_a_query_or_a_fragment_is_refused(url: str) -> None:
    [(name, why)] = problems(api_url=url)
    assert name == "api_url" and "without a query or fragment" in why
