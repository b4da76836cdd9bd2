"""`python -m bench [--quick] [--only a,b] [--duration S] [--profile]`: run the scenarios."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
import traceback
from datetime import UTC, datetime
from typing import Any

from bench import report
from bench.context import Context, Options
from bench.env import ScratchDatabase, machine, postgres_version
from bench.scenarios import SCENARIOS

log = logging.getLogger("bench")

# The bare endpoint is a separate tiny app rather than a route in the server: nothing in the
# server's code exists only for the benchmark.
NOTES = [
    "Every figure stands beside its ceiling measured in the same run, on the same machine and "
    "PostgreSQL; the load generator (aiohttp, closed loop) runs in its own process and shares "
    "the machine's CPUs with the server and PostgreSQL.",
    "The read ceiling is bench/bare_app.py (a bare Starlette route answering the same bytes) "
    "served as the server is (app/server_processes.py), not a route of the server.",
    "The 1M events are appended to the log by SQL (event.created records made from a template "
    "taken from an event created over HTTP), then `rebuild` fills the read models: the rebuild "
    "figure is that rebuild.",
]


def parse(argv: list[str] | None) -> Options:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="a short smoke run with small sizes")
    p.add_argument("--only", default="", help=f"comma list of: {', '.join(SCENARIOS)}")
    p.add_argument("--duration", type=float, help="seconds of each closed-loop HTTP scenario")
    p.add_argument("--clients", type=int, help="concurrent clients (default 16)")
    p.add_argument("--workers", type=int, help="server workers (default 2)")
    p.add_argument("--events", type=int, help="events in the big channel / log (default 1M)")
    p.add_argument("--profile", action="store_true",
                   help="py-spy the server during HTTP scenarios, pyinstrument the rebuild")
    p.add_argument("--output", default=None,
                   help="results stem in bench/results (default latest, or quick for --quick)")
    args = p.parse_args(argv)
    options = Options.quick_run() if args.quick else Options()
    if args.duration:
        options.duration = args.duration
    if args.clients:
        options.clients = args.clients
    if args.workers:
        options.workers = args.workers
    if args.events:
        options.log_records = args.events
    options.profile = args.profile
    options.only = [s for s in args.only.split(",") if s]
    unknown = set(options.only) - SCENARIOS.keys()
    if unknown:
        p.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    options.output = args.output or ("quick" if args.quick else "latest")  # type: ignore[attr-defined]
    return options


async def run(options: Options) -> dict[str, Any]:
    database = await ScratchDatabase().create()
    ctx = Context(options, database.url)
    started = datetime.now(UTC)
    results: list[dict[str, Any]] = []
    try:
        ctx.start_server()
        await ctx.login()
        chosen = options.only or list(SCENARIOS)
        if "latest_events" in chosen and "rebuild" not in chosen:
            chosen = ["rebuild", *chosen]  # latest_events reads the channel the rebuild fills
        for name in SCENARIOS:
            if name not in chosen:
                continue
            log.info("scenario %s", name)
            began = time.perf_counter()
            try:
                outcome = await SCENARIOS[name](ctx)
            except Exception as exc:
                traceback.print_exc()
                outcome = {"scenario": name, "error": f"{type(exc).__name__}: {exc}"}
                if ctx.server is None:
                    ctx.start_server()
            outcome["wallSeconds"] = round(time.perf_counter() - began, 1)
            results.append(outcome)
            log.info("%s: %s", name, outcome.get("figure") or outcome.get("error"))
    finally:
        ctx.stop_server()
        await database.drop()
    return {
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "postgres": await postgres_version(database.server_url),
        "options": {k: v for k, v in vars(options).items()},
        "notes": NOTES + ctx.notes,
        "results": results,
    }


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    options = parse(argv)
    outcome = asyncio.run(run(options))
    json_path, md_path = report.write(outcome, options.output)  # type: ignore[attr-defined]
    print(md_path.read_text())
    print(f"wrote {json_path} and {md_path}")
    return 1 if any("error" in r for r in outcome["results"]) else 0


if __name__ == "__main__":
    sys.exit(main())
