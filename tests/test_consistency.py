"""One source of truth: action.yml, the Settings model, the CLI and the README's tables agree."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from cekura_ci.cli import parser
from cekura_ci.outputs import OUTPUTS
from cekura_ci.settings import Settings
from scripts import generate_docs

ROOT = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
README = (ROOT / "README.md").read_text()


def test_generated_files_when_regenerated_are_unchanged() -> None:
    """action.yml and the README's tables are what scripts/generate_docs.py writes from Settings."""
    for path, content in generate_docs.generated().items():
        assert path.read_text(encoding="utf-8") == content, (
            f"{path.name} is stale: run python scripts/generate_docs.py"
        )


def test_action_inputs_when_compared_to_settings_are_the_same_in_the_same_order() -> None:
    assert list(ACTION["inputs"]) == Settings.input_names()
    assert list(ACTION["outputs"]) == list(OUTPUTS)


def test_action_defaults_when_parsed_equal_the_settings_defaults() -> None:
    """What the runner passes when a step gives nothing is what the model would assume; an
    expression default (the job's token) is the runner's to fill in, and declared as such."""
    defaults = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    expressions = {name for name, value in defaults.items() if "${{" in value}
    assert expressions == {"github_token", "comment_key"}
    raw = {name: value for name, value in defaults.items() if name not in expressions}
    from_action = Settings.from_inputs(
        {**raw, "api_key": "ck_test_settings_key", "agent_id": "1", "scenario_ids": "1"}
    )
    from_model = Settings.from_inputs(
        {"api_key": "ck_test_settings_key", "agent_id": "1", "scenario_ids": "1"}
    )
    assert from_action == from_model


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


def test_conftest_when_the_suite_runs_is_imported_once() -> None:
    """Plain `pytest` and `python -m pytest` both import the fixtures as tests.conftest only."""
    assert "conftest" not in sys.modules
    assert "tests.conftest" in sys.modules


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
