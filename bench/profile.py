"""Summarise a py-spy raw profile (collapsed stacks): where the samples went."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent) + "/"
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def summarise(raw: Path, report: Path, top: int = 15) -> dict:
    """Top functions by own samples, and toll's own functions by inclusive samples."""
    if not raw.exists():
        return {"error": f"no profile at {raw} (is py-spy installed?)"}
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [_name(frame) for frame in stack.split(";")]
        own[frames[-1]] += samples
        for frame in set(frames):
            if frame.endswith(".py)") and frame.rsplit("(", 1)[1].startswith(("flows/", "bench/")):
                inclusive[frame] += samples
    summary = {
        "samples": total,
        "own": [(name, round(n / total, 3)) for name, n in own.most_common(top)],
        "toll_inclusive": [(name, round(n / total, 3)) for name, n in inclusive.most_common(top)],
    }
    lines = [f"{total} samples", "", "own time (share of samples):"]
    lines += [f"  {share:6.1%}  {name}" for name, share in summary["own"]]
    lines += ["", "toll functions, inclusive:"]
    lines += [f"  {share:6.1%}  {name}" for name, share in summary["toll_inclusive"]]
    report.write_text("\n".join(lines) + "\n")
    return summary


def _name(frame: str) -> str:
    found = _FRAME.match(frame.strip())
    if not found:
        return frame.strip()
    file = found["file"].removeprefix(ROOT)
    for marker in ("/site-packages/", "/lib/python3."):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{found['function']} ({file})"
