"""The stand-in reads requests as Django REST framework does: what DRF accepts is accepted (ids
as text, `4.0` as 4), what it refuses is refused in its words and shapes, and pages are DRF's."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.helpers import API_KEY, scenario

V1 = "/test_framework/v1"
RUN = f"{V1}/scenarios/run_scenarios_livekit_v2/"
HEADERS = {"X-CEKURA-API-KEY": API_KEY}
ONE = [{"scenario": 101}]


@pytest.fixture
def server(make_world, serve):
    return serve(
        make_world(
            personalities=[{"id": 1, "name": "Normal Female"}, {"id": 3, "name": "Impatient"}],
            test_profiles=[{"id": 20, "name": "Existing patient"}],
        )
    )


def post(server, body: Any, path: str = RUN) -> requests.Response:
    return requests.post(server.url + path, json=body, headers=HEADERS, timeout=5)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"agent": 42}, {"scenarios": ["This field is required."]}),
        (
            {"agent": 42, "scenarios": [{"scenario": 101}, {"scenario": 999}]},
            {"scenarios": [{}, {"scenario": ['Invalid pk "999" - object does not exist.']}]},
        ),
        (
            {"agent": 42, "scenarios": [{"scenario": "x"}]},
            {"scenarios": [{"scenario": ["Incorrect type. Expected pk value, received str."]}]},
        ),
        (
            {"agent": 42, "scenarios": [{}]},
            {"scenarios": [{"scenario": ["This field is required."]}]},
        ),
        (
            {"agent": 42, "scenarios": [101]},
            {
                "scenarios": [
                    {"non_field_errors": ["Invalid data. Expected a dictionary, but got int."]}
                ]
            },
        ),
        (
            {"agent": 42, "scenarios": '[{"scenario": 101}]'},
            {"scenarios": {"non_field_errors": ['Expected a list of items but got type "str".']}},
        ),
        (
            {"agent": 42, "scenarios": []},
            {"scenarios": {"non_field_errors": ["This list may not be empty."]}},
        ),
        (
            {"agent": 42, "scenarios": ONE, "frequency": 0},
            {"frequency": ["Ensure this value is greater than or equal to 1."]},
        ),
        (
            {"agent": 42, "scenarios": ONE, "frequency": "101"},
            {"frequency": ["Ensure this value is less than or equal to 100."]},
        ),
        (
            {"agent": 42, "scenarios": ONE, "frequency": 2.5},
            {"frequency": ["A valid integer is required."]},
        ),
        (
            {"agent": 42, "scenarios": ONE, "frequency": True},
            {"frequency": ["A valid integer is required."]},
        ),
        (
            {"agent": 42, "scenarios": ONE, "frequency": None},
            {"frequency": ["This field may not be null."]},
        ),
        (
            {"agent": 7, "scenarios": ONE},
            {"agent": ['Invalid pk "7" - object does not exist.']},
        ),
        (
            {"agent": "forty-two", "scenarios": ONE},
            {"agent": ["Incorrect type. Expected pk value, received str."]},
        ),
        (
            {"agent": 42, "scenarios": ONE, "personality_ids": [1, 9]},
            {"personality_ids": ['Invalid pk "9" - object does not exist.']},
        ),
        (
            {"agent": 42, "scenarios": ONE, "test_profile_ids": "20"},
            {"test_profile_ids": ['Expected a list of items but got type "str".']},
        ),
        (
            {"agent": 42, "scenarios": ONE, "mock_tool_names": ["ok", ["nested"]]},
            {"mock_tool_names": {"1": ["Not a valid string."]}},
        ),
        (
            {"agent": 42, "scenarios": ONE, "livekit_data": "wss://lk"},
            {
                "livekit_data": {
                    "non_field_errors": ["Invalid data. Expected a dictionary, but got str."]
                }
            },
        ),
        (
            {"agent": 42, "scenarios": ONE, "livekit_data": None},
            {"livekit_data": ["This field may not be null."]},
        ),
        (
            {"agent": 42, "scenarios": ONE, "name": "n" * 256},
            {"name": ["Ensure this field has no more than 255 characters."]},
        ),
        (
            [{"scenario": 101}],
            {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]},
        ),
        (
            {"agent": 7, "scenarios": ONE, "frequency": 0},
            {
                "frequency": ["Ensure this value is greater than or equal to 1."],
                "agent": ['Invalid pk "7" - object does not exist.'],
            },
        ),
    ],
)
def test_trigger_when_body_is_wrong_answers_400_as_drf_does(server, body, expected) -> None:
    """Field messages, a dict per nested list item, everything wrong reported at once."""
    answer = post(server, body)
    assert (answer.status_code, answer.json()) == (400, expected)
    assert not server.emulator.results


def test_trigger_when_integers_come_as_text_accepts_them_as_drf_does(server) -> None:
    """`"42"`, `"3"`, `"101"` and `"2.0"` are integers to DRF's IntegerField."""
    answer = post(
        server,
        {
            "agent": "42",
            "frequency": "3",
            "scenarios": [{"scenario": "101"}, {"scenario": 102.0}],
            "concurrency_limit": "2.0",
            "personality_ids": ["3"],
            "name": 7,
        },
    )
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["agent"] == 42 and len(data["runs"]) == 6
    detail = requests.get(
        server.url + f"{V1}/results/{data['id']}/", headers=HEADERS, timeout=5
    ).json()
    assert detail["name"] == "7" and detail["run_settings"]["concurrency_limit"] == 2
    assert {run["personality_name"] for run in detail["runs"].values()} == {"Impatient"}


def test_trigger_when_the_agent_is_left_out_takes_the_scenarios_agent(server) -> None:
    answer = post(server, {"scenarios": ONE, "agent": None})
    assert answer.status_code == 200 and answer.json()["agent"] == 42


def test_share_link_when_expiry_is_not_a_date_answers_drfs_message(server) -> None:
    result_id = post(server, {"agent": 42, "scenarios": ONE}).json()["id"]
    answer = post(
        server, {"expire_at": "in a week"}, f"{V1}/results/{result_id}/create_shareable_link_token/"
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "expire_at": [
            "Datetime has wrong format. Use one of these formats instead: "
            "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
        ]
    }
    missing = post(server, {}, f"{V1}/results/1/create_shareable_link_token/")
    assert missing.status_code == 404  # the result is looked up before the body is read


def test_json_spec_run_when_the_spec_is_wrong_names_every_place_at_once(server) -> None:
    """Problems are keyed by where they are in the file, e.g. `scenarios[1].metrics[0]`."""
    spec = {
        "version": "2",
        "scenarios": [
            {"name": "ok", "instructions": "Call.", "metrics": ["Task completed"]},
            {"instructions": "Call.", "metrics": ["No such metric"]},
            "not an object",
        ],
    }
    answer = post(
        server,
        {"agent_id": 42, "channel": "livekit_v2", "spec": spec},
        f"{V1}/scenarios/run_scenarios_json/",
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "version": ['Unsupported spec version; expected "1".'],
        "scenarios[1].name": ["This field is required."],
        "scenarios[1].metrics[0]": [
            "Metric 'No such metric' does not exist or is not enabled for this agent."
        ],
        "scenarios[2]": ["Invalid data. Expected a dictionary, but got str."],
    }
    fields = post(server, {"channel": "phone", "spec": {}}, f"{V1}/scenarios/run_scenarios_json/")
    assert fields.json() == {
        "agent_id": ["This field is required."],
        "channel": ['"phone" is not a valid choice.'],
    }


@pytest.mark.parametrize(
    ("path", "params", "expected"),
    [
        (f"{V1}/results/", {"agent_id": "abc"}, {"agent_id": ["Enter a number."]}),
        (
            f"{V1}/results/",
            {"scenarios": "101,x"},
            {"scenarios": ["Enter a comma-separated list of whole numbers."]},
        ),
        (
            f"{V1}/scenarios/",
            {"tags": "a", "tag_filter_type": "xor"},
            {
                "tag_filter_type": [
                    "Select a valid choice. xor is not one of the available choices."
                ]
            },
        ),
        (
            f"{V1}/runs/",
            {"status": "done"},
            {"status": ["Select a valid choice. done is not one of the available choices."]},
        ),
        (f"{V1}/runs/bulk/", {}, {"run_ids": ["This field is required."]}),
        (
            f"{V1}/runs/bulk/",
            {"run_ids": "[1, 2]"},
            {"run_ids": ["Give a comma-separated list of ids (1,2,3), not a JSON array."]},
        ),
    ],
)
def test_query_when_a_filter_cannot_be_read_answers_400_naming_it(
    server, path, params, expected
) -> None:
    answer = requests.get(server.url + path, params=params, headers=HEADERS, timeout=5)
    assert (answer.status_code, answer.json()) == (400, expected)


@pytest.fixture
def listed(make_world, serve):
    """A world with 25 scenarios, to page through."""
    return serve(make_world([scenario(i) for i in range(1, 26)], page_size=10, max_page_size=20))


def page(server, **params: Any) -> requests.Response:
    return requests.get(server.url + f"{V1}/scenarios/", params=params, headers=HEADERS, timeout=5)


@pytest.mark.parametrize("number", ["0", "4", "-1", "abc", "2.0"])
def test_page_when_it_does_not_exist_answers_404_invalid_page(listed, number: str) -> None:
    answer = page(listed, page=number)
    assert (answer.status_code, answer.json()) == (404, {"detail": "Invalid page."})


def test_pages_when_followed_by_their_links_give_every_row_once(listed) -> None:
    """`next` and `previous` are absolute, keep the other parameters, and sort them as DRF does."""
    first = page(listed, tags="", page_size=7).json()
    assert first["count"] == 25 and first["previous"] is None
    assert first["next"] == f"{listed.url}{V1}/scenarios/?page=2&page_size=7&tags="
    seen, url = [], f"{listed.url}{V1}/scenarios/?page_size=7"
    while url:
        data = requests.get(url, headers=HEADERS, timeout=5).json()
        seen += [row["id"] for row in data["results"]]
        url = data["next"]
    assert seen == list(range(1, 26))
    second = page(listed, page=2).json()
    assert second["previous"] == f"{listed.url}{V1}/scenarios/"  # page 1 has no `page`


def test_page_size_when_odd_falls_back_or_is_capped_as_in_drf(listed) -> None:
    """0, negative or unreadable: the default size; above the maximum: the maximum."""
    for size, expected in (("0", 10), ("-3", 10), ("x", 10), ("50", 20), ("5", 5)):
        assert len(page(listed, page_size=size).json()["results"]) == expected
    assert [row["id"] for row in page(listed, page="last").json()["results"]] == [
        21,
        22,
        23,
        24,
        25,
    ]


def test_empty_list_when_asked_for_its_first_page_answers_it(make_world, serve) -> None:
    server = serve(make_world([]))
    assert page(server).json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert page(server, page=2).status_code == 404
