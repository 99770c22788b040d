"""One source of truth: action.yml, the Settings model, the CLI and the README's tables agree."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from cekura_ci.cli import parser
from cekura_ci.settings import Settings
from tests.test_pipeline import OUTPUT_NAMES

ROOT = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
README = (ROOT / "README.md").read_text()


def readme_table(heading: str) -> list[list[str]]:
    section = README.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]


def test_action_inputs_when_compared_to_settings_are_the_same_in_the_same_order() -> None:
    assert list(ACTION["inputs"]) == Settings.input_names()


def test_action_defaults_when_parsed_equal_the_settings_defaults() -> None:
    """What the runner passes when a step gives nothing is what the model would assume."""
    raw = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    from_action = Settings.from_inputs(
        {**raw, "api_key": "k", "agent_id": "1", "scenario_ids": "1"}
    )
    from_model = Settings.from_inputs({"api_key": "k", "agent_id": "1", "scenario_ids": "1"})
    assert from_action == from_model


def test_action_required_when_declared_matches_the_model() -> None:
    required = {name for name, spec in ACTION["inputs"].items() if spec.get("required")}
    assert required == {
        name for name, field in Settings.model_fields.items() if field.is_required()
    }


def test_action_descriptions_when_compared_to_the_model_are_the_same() -> None:
    for name, spec in ACTION["inputs"].items():
        assert spec["description"] == Settings.model_fields[name].description, name


def test_readme_inputs_table_when_compared_to_action_yml_agrees() -> None:
    rows = readme_table("Inputs")
    assert [row[0].strip("`") for row in rows] == list(ACTION["inputs"])
    for (name, required, default, description), spec in zip(
        rows, ACTION["inputs"].values(), strict=True
    ):
        assert required == ("yes" if spec.get("required") else "no"), name
        assert default == (f"`{spec['default']}`" if spec.get("default") else "–"), name
        assert description == spec["description"], name


def test_readme_outputs_table_when_compared_to_action_yml_and_the_gate_agrees() -> None:
    rows = readme_table("Outputs")
    assert [row[0].strip("`") for row in rows] == list(ACTION["outputs"])
    assert set(ACTION["outputs"]) == OUTPUT_NAMES
    for (name, description), spec in zip(rows, ACTION["outputs"].values(), strict=True):
        assert description == spec["description"], name


def test_cli_flags_when_listed_cover_every_input() -> None:
    run = next(
        a
        for a in parser()._subparsers._group_actions[0].choices.values()
        if a.prog.endswith(" run")
    )  # type: ignore[union-attr]
    flags = {opt for action in run._actions for opt in action.option_strings}
    assert {"--" + name.replace("_", "-") for name in Settings.input_names()} <= flags


def test_readme_when_read_starts_with_the_demo_and_the_test_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)\n```", README, re.S)
    assert blocks[0].endswith("cekura-ci demo") and "pip install" in blocks[0]
    assert blocks[1].endswith("python -m pytest")


def test_ci_script_when_read_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pytest" in ci


def test_docker_action_when_declared_uses_the_dockerfile_with_an_absolute_exec_entrypoint() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert ACTION["runs"] == {"using": "docker", "image": "Dockerfile"}
    assert re.search(
        r'^ENTRYPOINT \["/usr/local/bin/python", "/action/entrypoint.py"\]$', dockerfile, re.M
    )
    assert not re.search(r"^(USER|WORKDIR) ", dockerfile, re.M)
