"""The benchmark's machinery (``infra.bench``): it reports numbers and asserts nothing about time, so these
tests check what it measures and generates, never how fast anything is."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from infra import bench
from infra.registry import load_registry
from infra.versions import load_releases
from tests.conftest import REPO_ROOT
from tests.test_bad_input import assert_one_line_error


def test_generated_customers_are_valid_environments_with_releases(tmp_path, registry):
    environments, versions = bench.scaled_tree(tmp_path, 3)
    scaled = load_registry(environments)
    releases = load_releases(scaled, versions)
    generated = [e for e in scaled.environments if e.name.startswith("customer-")]
    assert [e.name for e in generated] == ["customer-001", "customer-002", "customer-003"]
    assert {e.kind for e in generated} == {"enterprise"}
    assert all(e.integrations for e in generated)  # customer-specific integration services, like contoso
    assert len(scaled.stack_names) == len(registry.stack_names) + 3
    assert {"customer-001", "customer-002", "customer-003"} <= set(releases)


def test_the_largest_scaling_point_is_a_valid_registry(tmp_path):
    environments, versions = bench.scaled_tree(tmp_path, bench.MAX_GENERATED)
    scaled = load_registry(environments)  # unique names, short names and address spaces for every customer
    assert sum(e.name.startswith("customer-") for e in scaled.environments) == bench.MAX_GENERATED
    load_releases(scaled, versions)


def test_scaled_tree_copies_and_leaves_the_real_folders_alone(tmp_path):
    before = sorted(p.name for p in (REPO_ROOT / "environments").iterdir())
    bench.scaled_tree(tmp_path, 2)
    assert sorted(p.name for p in (REPO_ROOT / "environments").iterdir()) == before


@pytest.mark.parametrize(("xs", "ys", "slope"), [
    ([1, 10, 50], [4.0, 4.9, 8.9], 0.1),
    ([1, 2], [3.0, 1.0], -2.0),
    ([5, 5], [1.0, 2.0], None),
])
def test_marginal_cost_is_the_least_squares_slope(xs, ys, slope):
    result = bench._slope([float(x) for x in xs], ys)
    assert result == pytest.approx(slope) if slope is not None else result is None


def test_measure_synth_reports_every_phase_of_one_deferred_synth(tmp_path):
    env = {**os.environ, "INFRA_EAGER_IMPORTS": "0"}
    env.pop("CDKTF_OUTDIR", None)
    measured = bench.measure_synth(env, tmp_path / "out")
    assert list(measured["phases_s"]) == list(bench.PHASES)
    assert all(value >= 0 for value in measured["phases_s"].values())
    assert sum(measured["phases_s"].values()) == pytest.approx(measured["wall_s"])
    assert measured["deferred_imports"] is True
    assert 0 < measured["provider_submodules_loaded"] < 200
    assert measured["peak_rss_mib"] > measured["python_peak_rss_mib"] > 0  # the tree includes the Node kernel
    assert measured["stacks"] == len(list((tmp_path / "out" / "stacks").iterdir()))


def _results(identical: bool = True) -> dict:
    def summary(wall: float, submodules: int, deferred: bool) -> dict:
        return {"runs": 1, "wall_s": {"min": wall, "median": wall, "max": wall},
                "phases_s": dict.fromkeys(bench.PHASES, wall / len(bench.PHASES)), "peak_rss_mib": 1000.0,
                "python_peak_rss_mib": 500.0, "stacks": 7, "deferred_imports": deferred,
                "provider_submodules_loaded": submodules}
    points = [{"customers": n, **summary(4.0 + n / 10, 40, True)} for n in (1, 10)]
    return {"machine": {"cpus": 2, "python": "3.11", "platform": "linux"}, "measured_at": "now",
            "modes": {"eager": summary(14.0, 1648, False), "deferred": summary(3.5, 39, True)},
            "deferred_over_eager": 0.25, "identical_output": identical, "files_compared": 8,
            "scaling": {"mode": "deferred", "points": points,
                        "marginal_per_environment": {"wall_s": 0.1, "construct_s": 0.04, "synth_s": 0.04,
                                                     "peak_rss_mib": 2.0}}}


def test_render_shows_both_modes_the_ratio_and_the_marginal_cost():
    text = bench.render(_results())
    assert "deferred / eager wall time: 0.25" in text
    assert "output byte-identical in both modes: yes (8 files)" in text
    assert "marginal cost per environment: wall 0.100 s, construct 0.040 s, synth 0.040 s, peak RSS 2.0 MiB" \
        in text
    rows = {line.split()[0]: line for line in text.splitlines() if line.startswith(("eager ", "deferred "))
            and "/" not in line}
    assert "1648" in rows["eager"] and "14.00s" in rows["eager"]
    assert "39" in rows["deferred"] and "3.50s" in rows["deferred"]
    assert "output byte-identical in both modes: NO" in bench.render(_results(identical=False))


@pytest.mark.parametrize(("args", "fragment"), [
    (["--runs", "0"], "argument --runs: '0': allowed: a whole number ≥ 1"),
    (["--scale", "1,x"], "argument --scale: '1,x': allowed: comma-separated whole numbers from 1 to 150"),
    (["--scale", "0"], "argument --scale: '0': allowed"),
    (["--scale", "151"], "argument --scale: '151': allowed"),
    (["--json", "/no/such/folder/bench.json"], "--json /no/such/folder/bench.json: folder /no/such/folder"),
    (["--fast"], "unrecognized arguments: --fast"),
])
def test_bad_arguments_are_one_line_and_exit_2(args, fragment):
    result = subprocess.run([sys.executable, "-m", "infra.bench", *args], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=60)
    assert_one_line_error(result, fragment)



def test_cli_measurement_without_the_cdktf_cli_is_one_line_and_exit_2(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(bench, "CDKTF_CLI", bench.REPO_ROOT / "node_modules" / ".bin" / "no-such-cdktf")
    assert bench.main(["--cli", "--json", str(tmp_path / "bench.json")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["error: --cli needs the cdktf CLI at node_modules/.bin/no-such-cdktf: run `make bench` "
                     "(it installs node_modules) or drop --cli"]
    assert list(tmp_path.iterdir()) == []


def test_render_shows_the_cdktf_cli_when_measured():
    results = _results()
    results["cdktf_cli"] = {mode: {"runs": 1, "wall_s": {"min": wall, "median": wall, "max": wall},
                                   "peak_rss_mib": 1800.0} for mode, wall in (("eager", 17.0), ("deferred", 5.1))}
    assert ("the real cdktf CLI (`cdktf synth`, whole tree): eager 17.00 s / 1800 MiB, deferred 5.10 s / 1800 MiB"
            "  ratio 0.30") in bench.render(results)
    assert "the real cdktf CLI" not in bench.render(_results())
