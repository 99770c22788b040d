"""The history (the `history` input): the last N finished results of the agent on a branch, each
judged with this result's policy, lined up per scenario with this result last.

Bounded: the results list (shared with `baseline: auto` when the branch is the same) and at most
N result fetches, within the look-up's time budget. Any failure is a warning and no history,
never a failed gate.
"""

from __future__ import annotations

import logging

from cekura_ci.baseline import name_parts
from cekura_ci.context import RunContext
from cekura_ci.earlier import FINISHED, Earlier
from cekura_ci.errors import Cancelled, CekuraCIError
from cekura_ci.gating import outcomes, point
from cekura_ci.settings import Settings
from cekura_ci.trend import History, build_history
from cekura_ci.verdict import Policy, Verdict, judge

log = logging.getLogger(__name__)


def history_branch(settings: Settings, context: RunContext) -> str:
    """The `baseline_branch` input; else, on a pull request, the branch it merges into (where
    the change lands); else this branch (a nightly on main: main's own history)."""
    if settings.baseline_branch:
        return settings.baseline_branch
    return context.base_branch if context.pull_request is not None else context.branch


def load(
    settings: Settings,
    context: RunContext,
    earlier: Earlier,
    now: Verdict,
    *,
    policy: Policy,
) -> tuple[History | None, list[str]]:
    """The history, or None and a note saying why there is none."""
    count = settings.history
    if not count:
        return None, []
    branch = history_branch(settings, context)
    if not context.repository or not branch:
        note = (
            "No history: it is found by the names cekura-ci gives results on GitHub Actions, and "
            "this run has no repository or branch to look for."
        )
        return None, [note]
    try:
        listing = earlier.named(context.name_prefix(branch), now.result_id)
        snapshots = []
        for row in listing.results[:count]:
            result = earlier.detail(row.id)
            if result.status not in FINISHED:
                continue
            verdict = judge(result, policy)
            snapshots.append((point(verdict, commit=name_parts(result.name)[1]), outcomes(verdict)))
    except Cancelled:
        raise  # the job is being cancelled: not a missing history
    except CekuraCIError as exc:
        note = f"No history: looking up earlier results failed ({str(exc).rstrip('.')})."
        log.warning("%s", note)
        return None, [note]
    snapshots.reverse()  # oldest → newest
    snapshots.append((point(now, commit=context.sha[:7] or None, now=True), outcomes(now)))
    notes = []
    if len(snapshots) == 1:
        notes.append(f"No earlier finished result of this agent on {branch} was found.")
    return build_history(branch, snapshots, requested=count), notes
