"""The `scenarios_file`: scenarios listed in the repository, as the run request lists them.

    - scenario: 101
    - scenario: 102
      publish_data_message: {caller: {patient_id: P-1042}}

or the same list under a `scenarios:` key, in YAML (`.yaml`, `.yml`) or JSON (`.json`). The file
is read and checked whole before anything is sent, and every problem is named with the file, the
entry and the field. `publish_data_message` is sent exactly as written, so YAML is read with YAML
1.2's core schema: `yes`, `on` and `2024-01-01` stay text (YAML 1.1 made them a boolean and a
date), and a value JSON cannot carry (NaN, a date, a key that is not text) is refused, not changed.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cekura_ci.settings import SettingsError
from cekura_ci.text import clip, one_line

MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 32
#: Values in all the messages together, after YAML anchors are expanded (a "billion laughs"
#: file of a few lines must not become a request of gigabytes).
MAX_VALUES = 100_000
#: Problems listed at most; the rest are counted.
MAX_PROBLEMS = 20
ENTRY_KEYS = ("scenario", "publish_data_message")
INPUT = "scenarios_file"


@dataclass(frozen=True)
class FileEntry:
    """One scenario of the file: its place (1-based), its id and the message sent with it."""

    number: int
    scenario: int
    publish_data_message: dict[str, Any] | None = None


def read_scenarios_file(path: str) -> list[FileEntry]:
    """The file's entries, or SettingsError naming every problem (the file, the entry, the field)."""
    target = Path(path)
    try:
        raw = target.read_bytes()
    except FileNotFoundError:
        raise _refused(
            [f"cannot read {path!r}: no such file (the path is relative to the workspace)"]
        ) from None
    except IsADirectoryError:
        raise _refused([f"cannot read {path!r}: it is a directory"]) from None
    except OSError as exc:
        raise _refused([f"cannot read {path!r}: {exc.strerror or exc}"]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise _refused([f"{path} holds {len(raw):,} bytes; at most {MAX_FILE_BYTES:,} are read"])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _refused([f"{path} is not UTF-8 text (byte {exc.start + 1})"]) from None
    suffix = target.suffix.lower()
    if suffix == ".json":
        data = _load_json(text, path)
    elif suffix in (".yaml", ".yml"):
        data = _load_yaml(text, path)
    else:
        raise _refused([f"{path}: expected a .yaml, .yml or .json file"])
    return parse_entries(data, path)


def parse_entries(data: Any, name: str) -> list[FileEntry]:
    """Check the loaded file whole: its shape, every entry's fields and types, duplicates."""
    problems: list[str] = []
    items = _items(data, name, problems)
    entries: list[FileEntry] = []
    budget = [MAX_VALUES]
    for number, item in enumerate(items, 1):
        entry = _entry(item, f"{name}, entry {number}", budget, problems)
        if entry is not None:
            entries.append(FileEntry(number, *entry))
    _duplicates(entries, name, problems)
    if problems:
        raise _refused(problems)
    return entries


def _refused(problems: list[str]) -> SettingsError:
    shown = problems[:MAX_PROBLEMS]
    if len(problems) > MAX_PROBLEMS:
        shown.append(f"and {len(problems) - MAX_PROBLEMS} more problems")
    return SettingsError([(INPUT, problem) for problem in shown])


#: Characters of a key shown in a message: a file's keys are the user's text, of any length.
KEY_LIMIT = 40


def _key(key: Any) -> str:
    """A key of the file as a message names it: quoted, on one line, clipped."""
    return repr(clip(one_line(key), KEY_LIMIT)) if isinstance(key, str) else repr(key)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the text {clip(one_line(value), 40)!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bytes):
        return "binary data"
    if isinstance(value, (dt.date, dt.datetime)):
        return "a date"
    if isinstance(value, (set, frozenset)):
        return "a set"
    if isinstance(value, tuple):
        return "a pair"
    return f"a value of type {type(value).__name__}"


def _items(data: Any, name: str, problems: list[str]) -> list[Any]:
    if isinstance(data, dict):
        unknown = [_key(key) for key in data if key != "scenarios"]
        if unknown:
            listed = ", ".join(unknown[:5]) + (
                f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            )
            problems.append(
                f"{name}: unknown top-level key {listed} (the file is a list of scenarios, or a "
                "mapping holding that list under 'scenarios')"
            )
        if "scenarios" not in data:
            problems.append(f"{name}: expected a 'scenarios' key holding the list of scenarios")
            return []
        data = data["scenarios"]
        where = f"{name}: 'scenarios'"
    else:
        where = name
    if not isinstance(data, list):
        problems.append(
            f"{where}: expected a list of scenarios such as [{{scenario: 101}}], got {_kind(data)}"
        )
        return []
    if not data:
        problems.append(f"{where}: lists no scenario")
    return data


def _entry(
    item: Any, where: str, budget: list[int], problems: list[str]
) -> tuple[int, dict[str, Any] | None] | None:
    if not isinstance(item, dict):
        problems.append(f"{where}: expected a mapping such as {{scenario: 101}}, got {_kind(item)}")
        return None
    before = len(problems)
    scenario = item.get("scenario")
    if "scenario" not in item:
        problems.append(f"{where}: field 'scenario' is missing (the scenario's id)")
    elif isinstance(scenario, bool) or not isinstance(scenario, int) or scenario < 1:
        problems.append(
            f"{where}: field 'scenario': expected a positive whole number (the scenario's id), "
            f"got {_kind(scenario)}"
        )
    else:
        where = f"{where} (scenario {scenario})"
    for key in item:
        if key not in ENTRY_KEYS:
            problems.append(
                f"{where}: unknown field {_key(key)} (an entry has 'scenario' and, optionally, "
                "'publish_data_message')"
            )
    message = item.get("publish_data_message")
    if "publish_data_message" in item:
        if not isinstance(message, dict):
            problems.append(
                f"{where}: field 'publish_data_message': expected an object (a mapping), got "
                f"{_kind(message)}; leave the field out to send none"
            )
        else:
            problems += [
                f"{where}: field {path}: {why}"
                for path, why in _not_json(message, "publish_data_message", budget)
            ]
    if len(problems) > before:
        return None
    return scenario, message


def _not_json(value: Any, root: str, budget: list[int]) -> list[tuple[str, str]]:
    """What in `value` JSON cannot carry as it is, with where (iteratively: a deep value must not
    exhaust the stack); also too deep, or too many values."""
    found: list[tuple[str, str]] = []
    todo: list[tuple[Any, str, int]] = [(value, root, 1)]
    while todo:
        node, path, depth = todo.pop()
        budget[0] -= 1
        if budget[0] < 0:
            return [*found, (root, f"more than {MAX_VALUES:,} values in the file's messages")]
        if depth > MAX_DEPTH:
            found.append((path, f"nested more than {MAX_DEPTH} levels"))
            continue
        if isinstance(node, dict):
            for key, child in reversed(node.items()):
                if not isinstance(key, str):
                    shown = clip(one_line(key), KEY_LIMIT)
                    found.append((path, f"key {_key(key)} is not text (quote it: '{shown}')"))
                    continue
                todo.append((child, f"{path}.{clip(one_line(key), KEY_LIMIT)}", depth + 1))
        elif isinstance(node, list):
            todo += [
                (child, f"{path}[{i}]", depth + 1) for i, child in reversed(list(enumerate(node)))
            ]
        elif isinstance(node, float) and not math.isfinite(node):
            found.append((path, f"{node} is not a JSON number"))
        elif node is not None and not isinstance(node, (str, int, float, bool)):
            found.append((path, f"{_kind(node)} is not a JSON value (quote it to send text)"))
    return found


def canonical(message: dict[str, Any] | None) -> str:
    """A message as comparable text: {"a": 1} and {"a": true} differ, key order does not."""
    return json.dumps(message, sort_keys=True, separators=(",", ":"))


def _duplicates(entries: list[FileEntry], name: str, problems: list[str]) -> None:
    first: dict[int, FileEntry] = {}
    for entry in entries:
        earlier = first.setdefault(entry.scenario, entry)
        if earlier is entry:
            continue
        if canonical(earlier.publish_data_message) == canonical(entry.publish_data_message):
            problems.append(
                f"{name}, entry {entry.number}: scenario {entry.scenario} is listed again "
                f"(first in entry {earlier.number}); list each scenario once"
            )
        else:
            problems.append(
                f"{name}, entries {earlier.number} and {entry.number}: scenario {entry.scenario} "
                "is chosen twice with two different publish_data_message values; keep one"
            )


# --- loading ---------------------------------------------------------------------------------


class _NotJson(ValueError):
    """A key given twice in one object, or NaN / Infinity, which JSON does not have."""


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise _NotJson(f"key {key!r} appears twice in one object")
        data[key] = value
    return data


def _no_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not JSON")


def _load_json(text: str, name: str) -> Any:
    try:
        return json.loads(
            text, object_pairs_hook=_object_without_duplicates, parse_constant=_no_constant
        )
    except json.JSONDecodeError as exc:
        raise _refused(
            [f"{name} is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"]
        ) from None
    except _NotJson as exc:
        raise _refused([f"{name} is not valid JSON for a request: {exc}"]) from None
    except RecursionError:
        raise _refused([f"{name}: nested more than {MAX_DEPTH} levels"]) from None


_CORE_SCHEMA = (
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+0123456789."),
    ),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", ["<"]),
)


@cache
def _core_loader() -> type:
    """A SafeLoader that reads YAML 1.2's core schema and refuses a key given twice."""
    import yaml  # only a YAML scenarios file needs it

    class CoreLoader(yaml.SafeLoader):
        yaml_implicit_resolvers: dict[str, list[Any]] = {}  # noqa: RUF012 (PyYAML's own layout)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[tuple[str, str]] = set()
            for key_node, _value in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE:
                    key = (key_node.tag, key_node.value)
                    if key in seen:
                        raise yaml.constructor.ConstructorError(
                            "while reading a mapping",
                            node.start_mark,
                            f"found the key {key_node.value!r} twice",
                            key_node.start_mark,
                        )
                    seen.add(key)
            return super().construct_mapping(node, deep=deep)

    def integer(loader: Any, node: Any) -> int:
        text = loader.construct_scalar(node)
        try:
            if text.startswith("0o"):
                return int(text[2:], 8)
            if text.startswith("0x"):
                return int(text[2:], 16)
            return int(text, 10)
        except ValueError:
            raise yaml.constructor.ConstructorError(
                None, None, f"{text!r} is not a whole number", node.start_mark
            ) from None

    def number(loader: Any, node: Any) -> float:
        text = loader.construct_scalar(node)
        special = text.lower().lstrip("+-")
        if special in (".inf", ".nan"):
            return float(("-" if text.startswith("-") else "") + special[1:])
        try:
            return float(text)
        except ValueError:
            raise yaml.constructor.ConstructorError(
                None, None, f"{text!r} is not a number", node.start_mark
            ) from None

    for tag, pattern, first in _CORE_SCHEMA:
        CoreLoader.add_implicit_resolver(tag, re.compile(pattern), first)
    CoreLoader.add_constructor("tag:yaml.org,2002:int", integer)
    CoreLoader.add_constructor("tag:yaml.org,2002:float", number)
    return CoreLoader


_MERGE = "tag:yaml.org,2002:merge"


def _load_yaml(text: str, name: str) -> Any:
    import yaml

    try:
        return yaml.load(text, Loader=_core_loader())  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = exc.problem or exc.context or "unreadable"
        raise _refused([f"{name} is not valid YAML{where}: {problem}"]) from None
    except yaml.YAMLError as exc:
        raise _refused([f"{name} is not valid YAML: {one_line(exc, 200)}"]) from None
    except RecursionError:
        raise _refused([f"{name}: nested more than {MAX_DEPTH} levels"]) from None
