"""Pure: the summary's "Compared with <branch>" and "History on <branch>" sections, prepared for
their templates (comparison.md.j2, history.md.j2, comparison.txt.j2).

API text (scenario names, result names) stays data for the templates to escape. The Mermaid
chart is written here whole, from numbers and labels of ours only: nothing in it comes from the
API, and what comes from the CI context (the branch) is cut to letters, digits and `._/-`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from cekura_ci.comparison import ScenarioComparison
from cekura_ci.gating import REGRESSION_RULE, age_text, key_of, thresholds_decide
from cekura_ci.trend import History, HistoryPoint
from cekura_ci.verdict import Verdict

ICONS = {
    "regressed": "❌",
    "fixed": "✅",
    "still_failing": "⚠️",
    "within_noise": "〰️",
    "new": "🆕",
    "not_run": "➖",
    "still_passing": "✅",
}
WORDS = {
    "regressed": "regressed",
    "fixed": "fixed",
    "still_failing": "still failing",
    "within_noise": "dropped, within noise",
    "new": "new",
    "not_run": "not run now",
    "still_passing": "still passing",
}
STRIP = {"passed": "✅", "flaky": "⚠️", "failed": "❌", "not_run": "➖"}
#: A hex commit of ours or of a default result name; anything else is not shown.
_COMMIT = re.compile(r"[0-9a-f]{7,40}")


def _commit(text: str | None) -> str | None:
    return text[:7] if text and _COMMIT.fullmatch(text) else None


def _mode(verdict: Verdict) -> str:
    regression_decides = any(r.decides for r in verdict.rules if r.name.startswith(REGRESSION_RULE))
    if regression_decides and thresholds_decide(verdict):
        return "both"
    return "regressions" if regression_decides else "threshold"


def comparison_view(
    verdict: Verdict, groups: Sequence[Any], *, rows: int | None, details: bool, heading: str
) -> dict[str, Any] | None:
    """What comparison.md.j2 shows: the baseline, the rows that changed or fail (regressed first),
    and for each regression the first way it failed. `groups` are the summary's failure groups."""
    comparison = verdict.comparison
    if comparison is None and not verdict.baseline_notes:
        return None
    view: dict[str, Any] = {
        "heading": heading,
        "comparison": comparison,
        "notes": verdict.baseline_notes,
        "icons": ICONS,
        "words": WORDS,
    }
    if comparison is None:
        return {**view, "branch": None}
    shown: list[ScenarioComparison] = [
        s for s in comparison.scenarios if s.classification != "still_passing"
    ]
    limited = shown if rows is None else shown[:rows]
    by_scenario: dict[object, Any] = {}
    for group in groups:
        by_scenario.setdefault(key_of(group.scenario), group)
    base = comparison.baseline
    counts = [
        (ICONS[c], comparison.count(c), WORDS[c])
        for c in ICONS
        if comparison.count(c) or c in ("regressed", "fixed", "still_failing")
    ]
    return {
        **view,
        "branch": base.branch,
        "rows": limited,
        "hidden_rows": len(shown) - len(limited),
        "counts": counts,
        "regressions": [
            (row, by_scenario.get(key_of(row)))
            for row in (comparison.regressed if rows is None else comparison.regressed[:rows])
        ]
        if details
        else [],
        "age": age_text(comparison.age_days),
        "created": base.created_at.strftime("%Y-%m-%d %H:%M UTC") if base.created_at else None,
        "commit": _commit(base.commit),
        "mode": _mode(verdict),
    }


# --- history ---------------------------------------------------------------------------------

_MERMAID_UNSAFE = re.compile(r"[^A-Za-z0-9 ._/-]")


def mermaid_label(text: object, limit: int = 40) -> str:
    """Text that cannot end a quoted Mermaid string, start a comment (`%%`) or an entity (`#…;`),
    or close the fenced block: letters, digits, spaces and `._/-` only."""
    return _MERMAID_UNSAFE.sub("", str(text))[:limit].strip() or "?"


def _x_label(point: HistoryPoint) -> str:
    return "now" if point.now else mermaid_label(point.result_id, 12)


def pass_rate_chart(history: History) -> str | None:
    """A Mermaid `xychart-beta` of the pass rate, oldest → newest (GitHub draws it in a job
    summary); None when fewer than two results have a rate."""
    points = [p for p in history.points if p.pass_rate is not None]
    if len(points) < 2:
        return None
    labels = ", ".join(f'"{_x_label(p)}"' for p in points)
    values = ", ".join(f"{p.pass_rate:.1f}" for p in points)
    return "\n".join(
        (
            "```mermaid",
            "xychart-beta",
            f'    title "Pass rate on {mermaid_label(history.branch)}, in percent"',
            f"    x-axis [{labels}]",
            '    y-axis "Pass rate" 0 --> 100',
            f"    line [{values}]",
            "```",
        )
    )


def history_view(verdict: Verdict, *, rows: int | None) -> dict[str, Any] | None:
    history = verdict.history
    if history is None and not verdict.history_notes:
        return None
    if history is None:
        return {"history": None, "notes": verdict.history_notes}
    earlier = [p for p in history.points if not p.now]
    strips = history.scenarios if rows is None else history.scenarios[:rows]
    return {
        "history": history,
        "notes": verdict.history_notes,
        "earlier": [
            {
                "id": p.result_id,
                "date": p.created_at.strftime("%Y-%m-%d") if p.created_at else None,
                "commit": _commit(p.commit),
                "rate": p.pass_rate,
            }
            for p in earlier
        ],
        "rows": [
            {
                "strip": s,
                "past": " ".join(STRIP[state] for state in s.states[:-1]) or "–",
                "now": STRIP[s.states[-1]],
            }
            for s in strips
        ],
        "hidden_rows": len(history.scenarios) - len(strips),
        "chart": pass_rate_chart(history),
    }
