"""``make bench``: how long a whole synth takes and how much memory it needs, as numbers (it asserts nothing).

1. Import modes, side by side: ``--runs`` rounds (default 3), each synthesizing every environment once with
   the stock eager provider imports (``INFRA_EAGER_IMPORTS=1``) and once with deferred submodule imports (the
   default, ``infra.lazy_providers``), each in a fresh interpreter. Per phase — startup (interpreter),
   config (environment and release files), imports, construct, synth, exit (teardown and jsii kernel
   shutdown) — and in total: the median over the rounds; peak RSS of the whole process tree (Python and the
   jsii Node process, sampled from /proc every 20 ms, Linux) and of Python alone: the maximum. The outputs of
   both modes are compared byte for byte.
2. Scaling, deferred imports: the real environments plus N generated customer environments (``--scale``,
   default 1,10,50), each an ``enterprise`` environment with its own integration and release file, in a
   temporary copy of ``environments/`` and ``versions/``; the marginal cost per environment is the least-squares
   slope over N.
3. With ``--cli`` (``make bench`` passes it): the real cdktf CLI, ``node_modules/.bin/cdktf synth``, in both
   modes, ``--runs`` rounds: total wall time and peak RSS of the whole tree (Node CLI, Python app, jsii kernel).

Prints a table and writes the same figures as JSON (``--json``, default ``bench-results.json``), plus every run's own
wall time, phases and peak RSS under ``samples``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from infra.cli import OneLineParser
from infra.lazy_providers import EAGER_VARIABLE
from infra.platform_config import REPO_ROOT
from infra.registry import ENVIRONMENTS_DIR, ENVIRONMENTS_DIR_VARIABLE
from infra.versions.files import VERSIONS_DIR, VERSIONS_DIR_VARIABLE

PHASES = ("startup", "config", "imports", "construct", "synth", "exit")
MODES = {"eager": "1", "deferred": "0"}  # label -> INFRA_EAGER_IMPORTS
DEFAULT_JSON = REPO_ROOT / "bench-results.json"
# Generated customers get 10.100.0.0/16 upwards: clear of the real environments (10.10-10.40).
FIRST_GENERATED_OCTET = 100
MAX_GENERATED = 150
CDKTF_CLI = REPO_ROOT / "node_modules" / ".bin" / "cdktf"


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


def _run_sampled(command: list[str], env: dict[str, str], stdout, stderr) -> tuple[float, float, float, int]:
    """Run ``command`` while sampling the RSS of its process tree: (spawned, ended, peak MiB, exit code)."""
    spawned = time.time()
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=stdout, stderr=stderr)
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss_kib(process.pid))
        time.sleep(0.02)
    return spawned, time.time(), peak / 1024, process.returncode


def _last_line(stream) -> str:
    stream.seek(0)
    lines = [line for line in stream.read().strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def measure_cli(env: dict[str, str], outdir: Path) -> dict[str, Any]:
    """One real ``cdktf synth --output OUTDIR``: total wall (s) and peak RSS of the whole tree (MiB)."""
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        spawned, ended, peak, code = _run_sampled([str(CDKTF_CLI), "synth", "--output", str(outdir)], env,
                                                  stdout, stderr)
        if code != 0:
            raise SystemExit(f"error: cdktf synth failed with exit code {code}: {_last_line(stderr)}")
    return {"wall_s": ended - spawned, "peak_rss_mib": peak}


def measure_synth(env: dict[str, str], outdir: Path) -> dict[str, Any]:
    """One ``python -m infra.bench_probe`` in a fresh interpreter: phases (s), total wall (s), peak RSS (MiB)."""
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        spawned, ended, peak, code = _run_sampled([sys.executable, "-m", "infra.bench_probe", str(outdir)], env,
                                                  stdout, stderr)
        if code != 0:
            raise SystemExit(f"error: the benchmark synth failed with exit code {code}: {_last_line(stderr)}")
        probe = json.loads(_last_line(stdout))
    marks = probe["marks"]
    bounds = [spawned, marks["config"], marks["imports"], marks["construct"], marks["synth"], marks["done"], ended]
    return {
        "wall_s": ended - spawned,
        "phases_s": {phase: bounds[i + 1] - bounds[i] for i, phase in enumerate(PHASES)},
        "peak_rss_mib": peak,
        "python_peak_rss_mib": probe["python_peak_rss_mib"],
        "stacks": probe["stacks"],
        "deferred_imports": probe["deferred_imports"],
        "provider_submodules_loaded": probe["provider_submodules_loaded"],
    }


def _walls(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Run count, wall time min / median / max and the highest peak RSS of some runs."""
    walls = [run["wall_s"] for run in runs]
    return {
        "runs": len(runs),
        "wall_s": {"min": min(walls), "median": statistics.median(walls), "max": max(walls)},
        "peak_rss_mib": max(run["peak_rss_mib"] for run in runs),
    }


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        **_walls(runs),
        "phases_s": {phase: statistics.median(run["phases_s"][phase] for run in runs) for phase in PHASES},
        "python_peak_rss_mib": max(run["python_peak_rss_mib"] for run in runs),
        "stacks": runs[0]["stacks"],
        "deferred_imports": runs[0]["deferred_imports"],
        "provider_submodules_loaded": runs[0]["provider_submodules_loaded"],
        "samples": [{key: run[key] for key in ("wall_s", "phases_s", "peak_rss_mib")} for run in runs],
    }


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def generated_customer(index: int) -> tuple[str, str, str]:
    """(environment file name, its source, its release file) of generated customer number ``index`` (1-based)."""
    name = f"customer-{index:03d}"
    module = f'''from building_blocks.kubernetes.integration_specs import SsoBridge
from infra.settings import EnvironmentSettings

ENVIRONMENT = EnvironmentSettings(
    name="{name}",
    kind="enterprise",
    short_name="cust{index:03d}",
    subscription="enterprise",
    address_space="10.{FIRST_GENERATED_OCTET + index - 1}.0.0/16",
    release_from="production-weu",
    api_server_authorized_ip_ranges=("203.0.113.0/24",),
    extra_tags={{"customer": "{name}"}},
    integrations=(SsoBridge(issuer_url="https://login.example.com/{name}/v2.0",
                            client_id="00000000-0000-4000-8000-{index:012d}",
                            allowed_email_domains=("{name}.example",)),),
)
'''
    release = "follows: production-weu\ncomponents:\n  sso-bridge:\n    version: 0.9.3\n    image_tag: 0.9.3\n"
    return f"bench_{name.replace('-', '_')}.py", module, release


def scaled_tree(root: Path, customers: int) -> tuple[Path, Path]:
    """Copies of environments/ and versions/ under ``root`` with ``customers`` generated customers added."""
    environments, versions = root / "environments", root / "versions"
    shutil.copytree(Path(os.environ.get(ENVIRONMENTS_DIR_VARIABLE) or ENVIRONMENTS_DIR), environments,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(Path(os.environ.get(VERSIONS_DIR_VARIABLE) or VERSIONS_DIR), versions)
    for index in range(1, customers + 1):
        filename, module, release = generated_customer(index)
        (environments / filename).write_text(module)
        (versions / "releases" / f"customer-{index:03d}.yaml").write_text(release)
    return environments, versions


def _slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of ys over xs (None with fewer than two distinct xs)."""
    if len(set(xs)) < 2:
        return None
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    return (sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
            / sum((x - mean_x) ** 2 for x in xs))


def _positive_counts(text: str) -> list[int]:
    try:
        counts = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        counts = []
    if not counts or not all(1 <= count <= MAX_GENERATED for count in counts):
        raise argparse.ArgumentTypeError(f"{text!r}: allowed: comma-separated whole numbers from 1 to "
                                         f"{MAX_GENERATED}, e.g. 1,10,50")
    return counts


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed: a whole number ≥ 1")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m infra.bench", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=_positive, default=3, help="rounds of eager + deferred (default 3)")
    parser.add_argument("--scale", type=_positive_counts, default=[1, 10, 50],
                        help="generated customer counts for the scaling runs (default 1,10,50)")
    parser.add_argument("--scale-runs", type=_positive, default=1, help="runs per scaling point (default 1)")
    parser.add_argument("--cli", action="store_true",
                        help="also time the real `cdktf synth` in both modes (needs node_modules/.bin/cdktf, "
                             "which make bench installs)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"JSON output (default {DEFAULT_JSON.name})")
    return parser


def run(args: argparse.Namespace) -> dict[str, Any]:
    python_dir = str(Path(sys.executable).parent)
    base = {**os.environ, "PATH": f"{python_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    base.pop("CDKTF_OUTDIR", None)
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": sys.platform},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
        for round_ in range(args.runs):
            for mode, flag in MODES.items():
                out = Path(tmp) / f"{mode}-{round_}"
                runs[mode].append(measure_synth({**base, EAGER_VARIABLE: flag}, out))
        eager, deferred = _files(Path(tmp) / "eager-0"), _files(Path(tmp) / "deferred-0")
        modes = {mode: _summary(samples) for mode, samples in runs.items()}
        results["modes"] = modes
        results["deferred_over_eager"] = (modes["deferred"]["wall_s"]["median"]
                                          / modes["eager"]["wall_s"]["median"])
        results["identical_output"] = eager == deferred
        results["files_compared"] = len(eager)

        if args.cli:
            cli = {mode: [measure_cli({**base, EAGER_VARIABLE: flag}, Path(tmp) / f"cli-{mode}-{round_}")
                          for round_ in range(args.runs)] for mode, flag in MODES.items()}
            results["cdktf_cli"] = {mode: _walls(samples) for mode, samples in cli.items()}

        points = []
        for customers in args.scale:
            root = Path(tmp) / f"scale-{customers}"
            environments, versions = scaled_tree(root, customers)
            env = {**base, EAGER_VARIABLE: "0", ENVIRONMENTS_DIR_VARIABLE: str(environments),
                   VERSIONS_DIR_VARIABLE: str(versions)}
            samples = [measure_synth(env, root / f"out-{i}") for i in range(args.scale_runs)]
            points.append({"customers": customers, **_summary(samples)})
            shutil.rmtree(root)
        xs = [float(p["customers"]) for p in points]
        results["scaling"] = {
            "mode": "deferred",
            "points": points,
            "marginal_per_environment": {
                "wall_s": _slope(xs, [p["wall_s"]["median"] for p in points]),
                "construct_s": _slope(xs, [p["phases_s"]["construct"] for p in points]),
                "synth_s": _slope(xs, [p["phases_s"]["synth"] for p in points]),
                "peak_rss_mib": _slope(xs, [p["peak_rss_mib"] for p in points]),
            },
        }
    return results


def _fmt(value: float | None, unit: str = "s") -> str:
    return "n/a" if value is None else (f"{value:.3f} {unit}" if unit == "s" else f"{value:.1f} {unit}")


def render(results: dict[str, Any]) -> str:
    machine, modes = results["machine"], results["modes"]
    lines = [f"machine: {machine['cpus']} CPUs, Python {machine['python']}; "
             f"{modes['eager']['stacks']} stacks, {modes['eager']['runs']} rounds (median per phase)", ""]
    header = f"{'mode':<10}" + "".join(f"{p:>10}" for p in PHASES) + f"{'total':>10}{'tree RSS':>11}" \
             f"{'py RSS':>9}{'submods':>9}"
    lines += [header, "-" * len(header)]
    for mode, summary in modes.items():
        lines.append(f"{mode:<10}" + "".join(f"{summary['phases_s'][p]:>9.2f}s" for p in PHASES)
                     + f"{summary['wall_s']['median']:>9.2f}s{summary['peak_rss_mib']:>7.0f} MiB"
                     + f"{summary['python_peak_rss_mib']:>5.0f} MiB{summary['provider_submodules_loaded']:>9}")
    lines += ["", f"deferred / eager wall time: {results['deferred_over_eager']:.2f}  "
              f"(eager {modes['eager']['wall_s']['min']:.2f}-{modes['eager']['wall_s']['max']:.2f} s, "
              f"deferred {modes['deferred']['wall_s']['min']:.2f}-{modes['deferred']['wall_s']['max']:.2f} s)",
              f"output byte-identical in both modes: {'yes' if results['identical_output'] else 'NO'} "
              f"({results['files_compared']} files)", ""]
    if "cdktf_cli" in results:
        cli = results["cdktf_cli"]
        lines.append("the real cdktf CLI (`cdktf synth`, whole tree): " + ", ".join(
            f"{mode} {cli[mode]['wall_s']['median']:.2f} s / {cli[mode]['peak_rss_mib']:.0f} MiB" for mode in cli)
            + f"  ratio {cli['deferred']['wall_s']['median'] / cli['eager']['wall_s']['median']:.2f}")
        lines.append("")
    scaling = results["scaling"]
    lines.append("scaling (deferred imports): real environments + N generated customers")
    header = f"{'N':>4}{'stacks':>8}{'imports':>10}{'construct':>11}{'synth':>9}{'total':>9}{'tree RSS':>11}"
    lines += [header, "-" * len(header)]
    for point in scaling["points"]:
        phases = point["phases_s"]
        lines.append(f"{point['customers']:>4}{point['stacks']:>8}{phases['imports']:>9.2f}s"
                     f"{phases['construct']:>10.2f}s{phases['synth']:>8.2f}s{point['wall_s']['median']:>8.2f}s"
                     f"{point['peak_rss_mib']:>7.0f} MiB")
    marginal = scaling["marginal_per_environment"]
    lines.append(f"marginal cost per environment: wall {_fmt(marginal['wall_s'])}, construct "
                 f"{_fmt(marginal['construct_s'])}, synth {_fmt(marginal['synth_s'])}, "
                 f"peak RSS {_fmt(marginal['peak_rss_mib'], 'MiB')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.json.parent.is_dir():
        print(f"error: --json {args.json}: folder {args.json.parent} does not exist", file=sys.stderr)
        return 2
    if args.cli and not CDKTF_CLI.exists():
        print(f"error: --cli needs the cdktf CLI at {CDKTF_CLI.relative_to(REPO_ROOT)}: run `make bench` "
              "(it installs node_modules) or drop --cli", file=sys.stderr)
        return 2
    results = run(args)
    print(render(results))
    partial = args.json.with_name(f".{args.json.name}.partial")
    partial.write_text(json.dumps(results, indent=2) + "\n")
    partial.replace(args.json)
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
