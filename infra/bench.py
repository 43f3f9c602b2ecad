"""``make bench``: how long a whole synth takes and how much memory it needs, as numbers (never a test).

Runs ``python main.py`` into a temporary folder ``--runs`` times (default 3) and, separately, the provider
imports alone, each in a fresh process; prints wall time (min / median / max) and the peak resident memory of
the whole process tree (Python and the jsii Node process), sampled from /proc (Linux).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from infra.platform_config import REPO_ROOT

IMPORTS = ("import cdktf, cdktf_cdktf_provider_azurerm.provider, cdktf_cdktf_provider_helm.provider, "
           "cdktf_cdktf_provider_kubernetes.provider, cdktf_cdktf_provider_random.provider")


def _tree_rss_kib(root: int) -> int:
    """Resident memory of ``root`` and all its descendants (the jsii Node process among them), from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid, ppid = int(entry.name), int(fields.get("PPid", "0").strip())
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def _measure(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS of the process tree in MiB, sampled every 20 ms) of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss_kib(process.pid))
        time.sleep(0.02)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"error: {' '.join(command)} failed with exit code {process.returncode}")
    return wall, peak / 1024


def _report(label: str, samples: list[tuple[float, float]]) -> str:
    walls = [w for w, _ in samples]
    rss = max(r for _, r in samples)
    return (f"{label:<16} wall min {min(walls):6.2f} s  median {statistics.median(walls):6.2f} s  "
            f"max {max(walls):6.2f} s   peak RSS {rss:7.0f} MiB   ({len(samples)} runs)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (default 3)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be ≥ 1, got {args.runs}")
    python = sys.executable
    env = {**os.environ, "PATH": f"{Path(python).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("CDKTF_OUTDIR", None)
    synth, imports = [], []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        env["INFRA_OUTDIR"] = str(Path(tmp) / "cdktf.out")
        for _ in range(args.runs):
            imports.append(_measure([python, "-c", IMPORTS], env))
            synth.append(_measure([python, str(REPO_ROOT / "main.py")], env))
        stacks = len(list((Path(tmp) / "cdktf.out" / "stacks").iterdir()))
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {stacks} stacks")
    print(_report("provider imports", imports))
    print(_report("whole synth", synth))
    beyond = statistics.median(w for w, _ in synth) - statistics.median(w for w, _ in imports)
    print(f"synth beyond imports: median {beyond:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
