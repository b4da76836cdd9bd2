"""Writing the results: `bench/results/latest.json` and the Markdown table `latest.md`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

RESULTS = Path(__file__).resolve().parent / "results"


def _num(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and value >= 100:
        return f"{value:,.0f}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _target(target: dict[str, Any] | None) -> str:
    if not target:
        return "—"
    parts = []
    if "ratio" in target:
        parts.append(f"ratio ≥ {target['ratio']}")
    if "p99_ms" in target:
        parts.append(f"p99 < {target['p99_ms']} ms")
    return ", ".join(parts)


def markdown(run: dict[str, Any]) -> str:
    m = run["machine"]
    lines = [
        f"Run {run['finished']} ({'quick' if run['options']['quick'] else 'full'} run), "
        f"{m['cpus']} CPUs, {m['memoryGiB']} GiB, Python {m['python']}, "
        f"PostgreSQL {run['postgres']}; server: `activity-server serve --workers "
        f"{run['options']['workers']}`, logging at info.",
        "",
        "| scenario | figure | p50 / p99 | ceiling (same run) | ratio | target | met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in run["results"]:
        if "error" in r:
            lines.append(f"| {r['scenario']} | failed: {r['error'][:120]} | | | | | |")
            continue
        latency = r.get("latency") or {}
        lat = (f"{_num(latency.get('p50_ms'))} / {_num(latency.get('p99_ms'))} ms"
               if latency else "—")
        c = r.get("ceiling")
        ceiling = f"{_num(c['value'])} {c['unit']}: {c['what']}" if c else "—"
        met = {True: "yes", False: "**no**", None: "—"}[r.get("met")]
        lines.append(
            f"| {r['title']} | {_num(r['figure']['value'])} {r['figure']['unit']} | {lat} | "
            f"{ceiling} | {_num(r.get('ratio'))} | {_target(r.get('target'))} | {met} |"
        )
    if run.get("notes"):
        lines += ["", *[f"- {note}" for note in run["notes"]]]
    return "\n".join(lines) + "\n"


def write(run: dict[str, Any], stem: str = "latest") -> tuple[Path, Path]:
    RESULTS.mkdir(exist_ok=True)
    json_path = RESULTS / f"{stem}.json"
    md_path = RESULTS / f"{stem}.md"
    json_path.write_bytes(orjson.dumps(run, option=orjson.OPT_INDENT_2) + b"\n")
    md_path.write_text(markdown(run))
    return json_path, md_path
