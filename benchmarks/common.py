"""What every benchmark shares: a description of the machine, and writing results down.

Each benchmark saves its latest figures as results/<name>.json; results.md is rebuilt from all
of them, so the table always shows the newest run of each, with the machine it ran on.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).parent / "results"


def cpu_flags() -> str:
    """The flags that decide CPU speed here: avx2, and avx512_bf16 (native bfloat16)."""
    try:
        present = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return "unknown"
    return " ".join(flag for flag in ("avx2", "avx512_bf16") if flag in present) or "neither"


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cpu flags": cpu_flags(),
        "cores": os.cpu_count(),
        "torch threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "os": platform.platform(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def save(name: str, figures: dict, notes: str = "", results: Path = RESULTS) -> None:
    """Write results/<name>.json and rebuild the table beside that folder."""
    results.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": name,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "figures": figures,
        "notes": notes,
    }
    (results / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    write_table(results)
    print(json.dumps(figures, indent=2))


def write_table(results: Path = RESULTS) -> None:
    lines = ["# Benchmark results", "", "Rebuilt by every benchmark run from `results/*.json`.", ""]
    for path in sorted(results.glob("*.json")):
        record = json.loads(path.read_text())
        m = record["machine"]
        where = f"{m['cpu']}, {m['cores']} cores" + (f", {m['gpu']}" if "gpu" in m else "")
        if "cpu flags" in m:
            where += f" ({m['cpu flags']})"
        lines += [
            f"## {record['benchmark']}",
            "",
            f"{record['date']} on {where}, torch {m['torch']}",
            "",
        ]
        lines += ["| figure | value |", "| --- | --- |"]
        lines += [f"| {key} | {value} |" for key, value in record["figures"].items()]
        if record["notes"]:
            lines += ["", record["notes"]]
        lines.append("")
    (results.parent / "results.md").write_text("\n".join(lines))
