"""A benchmark result document as a markdown table for the book, with its provenance."""

from __future__ import annotations

import re
from typing import Any

# A command-line flag outside a code span: shown as prose, Sphinx would join its dashes into an en
# dash ("–amp"), which fails when copied.
_BARE_FLAG = re.compile(r"(?<![\w`-])(--[a-z][\w-]*)")


def _number(value: float | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):  # a row that says why it has no number
        return value
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 0.1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _code_flags(text: str) -> str:
    """``text`` with each command-line flag outside a code span made a code literal."""
    parts = text.split("`")
    return "`".join(part if k % 2 else _BARE_FLAG.sub(r"`\1`", part) for k, part in enumerate(parts))


def _goal(row: dict[str, Any]) -> str | None:
    """A row's goal as a sentence: what was asked, and whether the measurement reached it."""
    entry = row.get("target")
    if not entry:
        return None
    outcome = "reached" if entry["met"] else "**not reached**"
    return f"{entry['target']}: {outcome}."


def markdown_report(document: dict[str, Any]) -> str:
    """Heading, provenance (date, commit, versions, machine load), one table row per measurement,
    then the goals set beforehand as prose: the table shows measurements only."""
    env = document["env"]
    load = document["load"]["before"]
    commit = (env.get("commit") or "unknown")[:12] + (" (uncommitted changes)" if env.get("dirty") else "")
    lines = [
        f"# Benchmark `{document['benchmark']}` ({document['profile']} profile)",
        "",
    ]
    if document.get("smoke"):
        lines += ["**Smoke run: tiny sizes to check that the code runs. These are not measurements.**", ""]
    lines += [
        f"- command: `{document['command']}`; date {document['date']}; commit `{commit}`",
        f"- torch {env['torch']}, torchvision {env['torchvision']}, Python {env['python']}, device {env['device']}"
        + (
            f" ({env['gpu']})"
            if env.get("gpu")
            else f", {load['cpu_count']} CPUs, {load['torch_threads']} torch threads"
        ),
        f"- machine load (1-minute average) before {load['loadavg_1m']:.1f}, after"
        f" {document['load']['after']['loadavg_1m']:.1f}: other jobs on the same cores slow every number",
        "",
        "| measurement | ours | naive | speedup |",
        "|---|---:|---:|---:|",
    ]
    for row in document["rows"]:
        ratio = f"{row['ratio']:.1f}x" if row.get("ratio") is not None else ""
        lines.append(
            f"| {_code_flags(row['measurement'])} | {_number(row['ours'])} | {_number(row.get('naive'))} | {ratio} |"
        )
    notes = document.get("notes", [])
    if notes:
        lines += ["", *[f"- {_code_flags(note)}" for note in notes]]
    goals = [goal for goal in map(_goal, document["rows"]) if goal]
    if goals:
        lines += ["", "Goals set before measuring:", "", *[f"- {_code_flags(goal)}" for goal in goals]]
    return "\n".join(lines) + "\n"
