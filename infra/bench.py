"""``make bench``: how long a synth takes and how much memory it needs, as numbers (it asserts nothing).

1. Import modes, side by side: ``--runs`` rounds (default 3), each synthesizing every environment once with
   the stock eager provider imports (``INFRA_EAGER_IMPORTS=1``) and once with deferred submodule imports (the
   default, ``infra.lazy_providers``), each in a fresh interpreter. Per phase — startup (interpreter),
   config (environment and release files), imports, construct, synth, exit (teardown and jsii kernel
   shutdown) — and in total: the median over the rounds; peak RSS of the whole process tree (Python and the
   jsii Node process, sampled from /proc every 20 ms, Linux) and of Python alone: the maximum. The outputs of
   both modes are compared byte for byte.
2. Scaling, deferred imports: the real environments plus G generated customer environments (``--scale``,
   default 0,50,500; 0 = the 7 real stacks), each an ``enterprise`` environment with its own integration and
   release file, in a temporary copy of ``environments/`` and ``versions/``. At each point: a synth of every
   stack and a synth of one selected stack (``--select``, default dev, through ``INFRA_STACKS``: every
   definition is still loaded and cross-checked); the marginal cost per environment of each is the
   least-squares slope over the number of stacks.
3. With ``--cli`` (``make bench`` passes it): the real cdktf CLI, ``node_modules/.bin/cdktf synth``, in both
   modes, ``--runs`` rounds: total wall time and peak RSS of the whole tree (Node CLI, Python app, jsii kernel).
4. With ``--make-test`` / ``--make-scan`` / ``--fresh-clone`` (``make bench`` passes them): wall time and peak
   tree RSS of ``make test`` in this checkout (warm: venvs installed, caches full), of ``make scan``, and of
   ``make test`` in a fresh ``git clone`` of HEAD whose venvs were built first (not timed).

Goals it reports against, never asserts: one selected environment at the largest scaling point within 10% of
the smallest; warm ``make test`` ≤ 60 s; ``make scan`` ≤ 30 s.

Prints a table and writes the same figures as JSON (``--json``, default ``bench-results.json``), plus every run's own
wall time, phases and peak RSS under ``samples``. A quick look: ``python -m infra.bench --runs 1 --scale 0,10``.
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

from infra.app import OUTDIR_VARIABLE, STACKS_VARIABLE
from infra.cli import OneLineParser
from infra.lazy_providers import EAGER_VARIABLE
from infra.platform_config import REPO_ROOT
from infra.registry import ENVIRONMENTS_DIR, ENVIRONMENTS_DIR_VARIABLE, load_registry
from infra.versions.files import VERSIONS_DIR, VERSIONS_DIR_VARIABLE

PHASES = ("startup", "config", "imports", "construct", "synth", "exit")
MODES = {"eager": "1", "deferred": "0"}  # label -> INFRA_EAGER_IMPORTS
DEFAULT_JSON = REPO_ROOT / "bench-results.json"
# Generated customers get a /20 each from 10.100.0.0 upwards (16 per second octet): clear of the real
# environments (10.10-10.40), room for MAX_GENERATED.
FIRST_GENERATED_OCTET = 100
MAX_GENERATED = 500
DEFAULT_SCALE = [0, 50, 500]
DEFAULT_SELECTED = "dev"
CDKTF_CLI = REPO_ROOT / "node_modules" / ".bin" / "cdktf"
# The goals the report states (never asserted): selected-at-largest / selected-at-smallest, and two walls (s).
SELECTED_GROWTH_GOAL = 1.10
MAKE_TEST_GOAL_S = 60.0
MAKE_SCAN_GOAL_S = 30.0


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


def measure_make(target: str, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """One ``make <target>`` in ``cwd``: wall (s), peak RSS of the whole tree (MiB), exit code, last line."""
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        spawned = time.time()
        process = subprocess.Popen(["make", "--no-print-directory", target], cwd=cwd, env=env, stdout=stdout,
                                   stderr=stderr)
        peak = 0
        while process.poll() is None:
            peak = max(peak, _tree_rss_kib(process.pid))
            time.sleep(0.1)
        ended = time.time()
        last = _last_line(stdout if process.returncode == 0 else stderr)
    return {"wall_s": ended - spawned, "peak_rss_mib": peak / 1024, "exit_code": process.returncode,
            "last_line": last}


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


def generated_address_space(index: int) -> str:
    """The /20 of generated customer number ``index`` (1-based)."""
    offset = index - 1
    return f"10.{FIRST_GENERATED_OCTET + offset // 16}.{offset % 16 * 16}.0/20"


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
    address_space="{generated_address_space(index)}",
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


def _customer_counts(text: str) -> list[int]:
    try:
        counts = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        counts = []
    if not counts or not all(0 <= count <= MAX_GENERATED for count in counts):
        raise argparse.ArgumentTypeError(f"{text!r}: allowed: comma-separated whole numbers from 0 to "
                                         f"{MAX_GENERATED}, e.g. 0,50,500")
    return counts


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: allowed: a whole number ≥ 0")
    return int(text)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed: a whole number ≥ 1")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m infra.bench", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=_positive, default=3, help="rounds of eager + deferred (default 3)")
    parser.add_argument("--scale", type=_customer_counts, default=DEFAULT_SCALE,
                        help="generated customer counts for the scaling runs, 0 = the real environments only "
                             "(default 0,50,500; 500 takes minutes and about 3 GiB)")
    parser.add_argument("--scale-runs", type=_positive, default=1,
                        help="runs per scaling point, all stacks and the selected one each (default 1)")
    parser.add_argument("--all-max", type=_count, default=None, metavar="G",
                        help="synthesize every stack only at points with at most G generated customers (the "
                             "selected stack at every point); for a quick run, e.g. --all-max 50")
    parser.add_argument("--select", default=DEFAULT_SELECTED,
                        help=f"the one environment synthesized alone at each scaling point (default "
                             f"{DEFAULT_SELECTED})")
    parser.add_argument("--cli", action="store_true",
                        help="also time the real `cdktf synth` in both modes (needs node_modules/.bin/cdktf, "
                             "which make bench installs)")
    parser.add_argument("--make-test", action="store_true", help="also time `make test` in this checkout")
    parser.add_argument("--make-scan", action="store_true", help="also time `make scan`")
    parser.add_argument("--fresh-clone", action="store_true",
                        help="also time `make test` in a fresh git clone of HEAD (its venvs are built first, "
                             "untimed: minutes)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"JSON output (default {DEFAULT_JSON.name})")
    return parser


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def _prepare(checkout: Path, env: dict[str, str]) -> None:
    """Build what ``make test`` and ``make scan`` install (both venvs) before timing them: a no-op when done."""
    result = subprocess.run(["make", "--no-print-directory", "setup", ".venv-scan/.installed"], cwd=checkout,
                            env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"error: make setup in {checkout} failed with exit code {result.returncode}: "
                         f"{(result.stderr.strip().splitlines() or ['no output'])[-1]}")


def _fresh_clone(tmp: Path, env: dict[str, str]) -> Path:
    """A ``git clone`` of HEAD with its venvs built, next to a link to ``../shared`` as the checkout has it."""
    clone = tmp / "fresh" / REPO_ROOT.name
    clone.parent.mkdir()
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO_ROOT), str(clone)], check=True)
    shared = REPO_ROOT.parent / "shared"
    if shared.exists():
        (clone.parent / "shared").symlink_to(shared.resolve())
    _prepare(clone, env)
    return clone


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The goals the report states, each with its measured value (None when not measured) and whether it is
    met; nothing here is asserted."""
    found: list[dict[str, Any]] = []
    points = results.get("scaling", {}).get("points", [])
    if len(points) >= 2:
        small, large = points[0], points[-1]
        ratio = large["selected"]["wall_s"]["median"] / small["selected"]["wall_s"]["median"]
        found.append({"goal": f"one selected environment with {large['stacks']} stacks within 10% of "
                              f"{small['stacks']} stacks", "value": ratio, "target": SELECTED_GROWTH_GOAL,
                      "unit": "x", "met": ratio <= SELECTED_GROWTH_GOAL})
    warm = results.get("make_test", {}).get("warm")
    scan = results.get("make_scan")
    for label, measured, target in (("warm make test", warm, MAKE_TEST_GOAL_S),
                                    ("make scan", scan, MAKE_SCAN_GOAL_S)):
        value = measured["wall_s"] if measured and measured["exit_code"] == 0 else None
        found.append({"goal": f"{label} <= {target:.0f} s", "value": value, "target": target, "unit": "s",
                      "met": None if value is None else value <= target})
    return found


def run(args: argparse.Namespace) -> dict[str, Any]:
    python_dir = str(Path(sys.executable).parent)
    base = {**os.environ, "PATH": f"{python_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    base.pop("CDKTF_OUTDIR", None)
    base.pop(STACKS_VARIABLE, None)
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
            full = args.all_max is None or customers <= args.all_max
            every = [measure_synth(env, root / f"all-{i}") for i in range(args.scale_runs)] if full else []
            selected = [measure_synth({**env, STACKS_VARIABLE: args.select}, root / f"one-{i}")
                        for i in range(args.scale_runs)]
            points.append({"customers": customers, "stacks": len(load_registry(environments).stack_names),
                           "all": _summary(every) if every else None, "selected": _summary(selected)})
            shutil.rmtree(root)

        def marginal(kind: str) -> dict[str, float | None]:
            measured = [p for p in points if p[kind]]
            xs = [float(p["stacks"]) for p in measured]
            return {
                "wall_s": _slope(xs, [p[kind]["wall_s"]["median"] for p in measured]),
                "config_s": _slope(xs, [p[kind]["phases_s"]["config"] for p in measured]),
                "construct_s": _slope(xs, [p[kind]["phases_s"]["construct"] for p in measured]),
                "synth_s": _slope(xs, [p[kind]["phases_s"]["synth"] for p in measured]),
                "peak_rss_mib": _slope(xs, [p[kind]["peak_rss_mib"] for p in measured]),
                "python_peak_rss_mib": _slope(xs, [p[kind]["python_peak_rss_mib"] for p in measured]),
            }

        results["scaling"] = {
            "mode": "deferred",
            "selected": args.select,
            "points": points,
            "marginal_per_environment": {"all": marginal("all"), "selected": marginal("selected")},
        }

        clean = {k: v for k, v in base.items() if not k.startswith(("INFRA_", "PYTEST_"))}
        if args.make_test or args.make_scan:
            _prepare(REPO_ROOT, clean)
        if args.make_scan:
            results["make_scan"] = measure_make("scan", {**clean, OUTDIR_VARIABLE: str(Path(tmp) / "scan.out")},
                                                REPO_ROOT)
        if args.make_test:
            results["make_test"] = {"warm": measure_make("test", clean, REPO_ROOT)}
        if args.fresh_clone:
            clone = _fresh_clone(Path(tmp), clean)
            results.setdefault("make_test", {})["fresh_clone"] = {
                **measure_make("test", clean, clone), "commit": _git(REPO_ROOT, "rev-parse", "HEAD")}
    results["goals"] = goals(results)
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
    selected = scaling["selected"]
    lines.append(f"scaling (deferred imports): the real environments + G generated customers; every stack, "
                 f"and {selected} alone (INFRA_STACKS)")
    header = (f"{'G':>4}{'stacks':>8} | {'all: config':>11}{'construct':>10}{'synth':>8}{'total':>9}"
              f"{'tree RSS':>10}{'py RSS':>9} | {selected + ': config':>14}{'total':>8}{'tree RSS':>10}"
              f"{'py RSS':>9}")
    lines += [header, "-" * len(header)]
    for point in scaling["points"]:
        every, one = point["all"], point["selected"]
        if every:
            all_columns = (f"{every['phases_s']['config']:>10.2f}s{every['phases_s']['construct']:>9.2f}s"
                           f"{every['phases_s']['synth']:>7.2f}s{every['wall_s']['median']:>8.2f}s"
                           f"{every['peak_rss_mib']:>6.0f} MiB{every['python_peak_rss_mib']:>5.0f} MiB")
        else:
            all_columns = f"{'(not run: --all-max)':>57}"
        lines.append(f"{point['customers']:>4}{point['stacks']:>8} | {all_columns} | "
                     f"{one['phases_s']['config']:>13.2f}s{one['wall_s']['median']:>7.2f}s"
                     f"{one['peak_rss_mib']:>6.0f} MiB{one['python_peak_rss_mib']:>5.0f} MiB")
    for kind, label in (("all", "every stack"), ("selected", f"{selected} alone")):
        marginal = scaling["marginal_per_environment"][kind]
        lines.append(f"marginal cost per environment, {label}: wall {_fmt(marginal['wall_s'])} (config "
                     f"{_fmt(marginal['config_s'])}, construct {_fmt(marginal['construct_s'])}, synth "
                     f"{_fmt(marginal['synth_s'])}), peak RSS {_fmt(marginal['peak_rss_mib'], 'MiB')} tree, "
                     f"{_fmt(marginal['python_peak_rss_mib'], 'MiB')} Python")
    makes = [("make test (warm)", results.get("make_test", {}).get("warm")),
             ("make test (fresh clone, venvs built)", results.get("make_test", {}).get("fresh_clone")),
             ("make scan", results.get("make_scan"))]
    measured = [(label, run) for label, run in makes if run]
    if measured:
        lines.append("")
        for label, run in measured:
            outcome = "" if run["exit_code"] == 0 else f"  FAILED (exit {run['exit_code']}): {run['last_line']}"
            lines.append(f"{label}: {run['wall_s']:.1f} s, peak tree RSS {run['peak_rss_mib']:.0f} MiB{outcome}")
    lines += ["", "goals (reported, not asserted):"]
    for goal in results["goals"]:
        if goal["value"] is None:
            lines.append(f"  {goal['goal']}: not measured")
            continue
        value = f"{goal['value']:.2f}x" if goal["unit"] == "x" else f"{goal['value']:.1f} s"
        lines.append(f"  {goal['goal']}: {value} - {'met' if goal['met'] else 'NOT met'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.json.parent.is_dir():
        print(f"error: --json {args.json}: folder {args.json.parent} does not exist", file=sys.stderr)
        return 2
    allowed = load_registry().stack_names
    if args.select not in allowed:
        print(f"error: --select {args.select!r}: allowed: {', '.join(allowed)}", file=sys.stderr)
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
