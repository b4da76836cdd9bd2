"""Serving with several worker processes, each on a listening socket of its own.

uvicorn's `--workers` shares one listening socket between its workers, and a worker that wakes
accepts every connection waiting: a burst of long-lived connections (keep-alive clients, a
proxy's connection pool, a thousand EventSources opening together) lands on one process while
the others idle. Measured with 16 keep-alive clients and two workers: all requests on one
worker in one run out of three, two to one in another. Here each worker binds the address with
SO_REUSEPORT and the kernel spreads new connections over the workers by their addresses.

The supervisor restarts a worker that dies (unless it failed before serving: then the next one
would too) and stops them all, gracefully, on SIGTERM, SIGINT or SIGHUP.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

logger = logging.getLogger(__name__)

# How long a worker may take to finish its graceful shutdown before it is killed.
STOP_GRACE = 30.0
# uvicorn's settings for the server (`activity-server serve`) and for the bench's bare ceiling
# app, which must be served the same way: logging is the application's own (app/logging_setup.py),
# access lines included. uvicorn would replace the client's address by X-Forwarded-For from any
# local peer; the application decides which proxies it trusts (app/http/client_address.py).
UVICORN_OPTIONS: dict[str, Any] = {
    "log_config": None,
    "access_log": False,
    "proxy_headers": False,
    "timeout_graceful_shutdown": 5,
    "ws": "websockets-sansio",
}


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to the address beside the other workers' (not listening yet)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker(options: dict[str, Any]) -> None:
    """One worker process: uvicorn on a socket of its own (uvicorn starts listening on it)."""
    sock = listening_socket(options["host"], options["port"])
    uvicorn.Server(uvicorn.Config(**options)).run(sockets=[sock])


def serve(workers: int, **options: Any) -> None:
    """Runs `workers` uvicorn workers on `options["host"]:options["port"]` until told to stop.

    `options` are uvicorn.Config's; `workers` 1 runs uvicorn in this process."""
    if workers <= 1:
        uvicorn.run(**options)
        return
    # Bound here, never listened on: a port taken by another program fails now, not in every
    # worker; the workers' sockets join it (same user, SO_REUSEPORT on all of them).
    guard = listening_socket(options["host"], options["port"])
    stopping: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda number, _frame: stopping.append(number))
        # SIGHUP too: uvicorn's supervisor restarted its workers on it; ours stops them, rather
        # than die of it and leave them serving (restart through the service manager).
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    }
    spawn = multiprocessing.get_context("spawn")

    def start() -> multiprocessing.process.BaseProcess:
        process = spawn.Process(target=_worker, args=(options,), daemon=False)
        process.start()
        return process

    processes = [start() for _ in range(workers)]
    try:
        while not stopping:
            time.sleep(0.5)
            for index, process in enumerate(processes):
                if process.is_alive() or stopping:
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    logger.error("worker %s failed to start; stopping", process.pid)
                    stopping.append(signal.SIGTERM)
                    break
                logger.warning("worker %s died (exit code %s); starting another",
                            process.pid, process.exitcode)
                processes[index] = start()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn's graceful shutdown
        deadline = time.monotonic() + STOP_GRACE
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        guard.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
