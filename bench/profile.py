"""Profiling what falls short: py-spy on the server's processes during a scenario, pyinstrument
in-process for the rebuild. Each writes `bench/results/profile-<scenario>.*` and a summary of
where the time went (self time and inclusive time per function)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


class PySpy:
    """`py-spy record --subprocesses` on the server's supervisor, raw (collapsed) stacks."""

    def __init__(self, pid: int, name: str, seconds: float) -> None:
        self.raw = RESULTS / f"profile-{name}.collapsed"
        self.summary_path = RESULTS / f"profile-{name}.txt"
        self.process: subprocess.Popen[bytes] | None = None
        beside = Path(sys.executable).parent / "py-spy"  # the venv's, when not activated
        exe = str(beside) if beside.exists() else shutil.which("py-spy")
        if exe is None:
            return
        self.process = subprocess.Popen(
            [exe, "record", "--pid", str(pid), "--subprocesses", "--format", "raw",
             "--rate", "200", "--nolineno", "--duration", str(max(1, int(seconds))),
             "--nonblocking",
             "--output", str(self.raw)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def finish(self) -> str | None:
        if self.process is None:
            return None
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait()
        if not self.raw.exists():
            return None
        text = summarize_collapsed(self.raw.read_text())
        self.summary_path.write_text(text)
        return str(self.summary_path.relative_to(RESULTS.parent.parent))


def summarize_collapsed(text: str, top: int = 30) -> str:
    """Self and inclusive sample counts per function from `a;b;c N` lines."""
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f for f in stack.split(";") if f]
        # The first frame names the process/thread; skip idle event-loop waits for clarity.
        if frames:
            self_time[_short(frames[-1])] += n
        for frame in {_short(f) for f in frames}:
            inclusive[frame] += n
    lines = [f"samples: {total}", "", "self time (top functions):"]
    for frame, n in self_time.most_common(top):
        lines.append(f"  {100 * n / total:5.1f}%  {frame}")
    lines += ["", "inclusive time (top functions):"]
    for frame, n in inclusive.most_common(top + 20):
        lines.append(f"  {100 * n / total:5.1f}%  {frame}")
    return "\n".join(lines) + "\n"


def _short(frame: str) -> str:
    # py-spy frames look like "function (path/to/file.py:123)"; keep the function and file:line
    # relative to site-packages or the project.
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in frame:
            head, _, tail = frame.partition(marker)
            frame = head.split("(")[0] + "(" + tail
    return frame
