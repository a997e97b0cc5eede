"""A benchmark result document as a markdown table for the book, with its provenance."""

from __future__ import annotations

from typing import Any


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


def _target(entry: dict[str, Any] | None) -> tuple[str, str]:
    if not entry:
        return "", ""
    return entry["target"], "yes" if entry["met"] else "**no**"


def markdown_report(document: dict[str, Any]) -> str:
    """Heading, provenance (date, commit, versions, machine load) and one table row per measurement."""
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
        "| measurement | ours | naive | speedup | target | met |",
        "|---|---:|---:|---:|---|---|",
    ]
    for row in document["rows"]:
        text, met = _target(row.get("target"))
        ratio = f"{row['ratio']:.1f}x" if row.get("ratio") is not None else ""
        lines.append(
            f"| {row['measurement']} | {_number(row['ours'])} | {_number(row.get('naive'))} "
            f"| {ratio} | {text} | {met} |"
        )
    notes = document.get("notes", [])
    if notes:
        lines += ["", *[f"- {note}" for note in notes]]
    return "\n".join(lines) + "\n"
