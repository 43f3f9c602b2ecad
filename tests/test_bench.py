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
    """One selected stack (what the scaling runs measure beside the full synth; a full synth goes through the
    same probe with INFRA_STACKS unset)."""
    env = {**os.environ, "INFRA_EAGER_IMPORTS": "0", "INFRA_STACKS": "onprem"}
    env.pop("CDKTF_OUTDIR", None)
    measured = bench.measure_synth(env, tmp_path / "out")
    assert list(measured["phases_s"]) == list(bench.PHASES)
    assert all(value >= 0 for value in measured["phases_s"].values())
    assert sum(measured["phases_s"].values()) == pytest.approx(measured["wall_s"])
    assert measured["deferred_imports"] is True
    assert 0 < measured["provider_submodules_loaded"] < 200
    assert measured["peak_rss_mib"] > measured["python_peak_rss_mib"] > 0  # the tree includes the Node kernel
    assert measured["stacks"] == 1
    assert [p.name for p in (tmp_path / "out" / "stacks").iterdir()] == ["onprem"]


def test_generated_customers_get_disjoint_address_spaces_up_to_the_largest_count():
    spaces = [bench.generated_address_space(index) for index in range(1, bench.MAX_GENERATED + 1)]
    assert spaces[:2] == ["10.100.0.0/20", "10.100.16.0/20"] and spaces[16] == "10.101.0.0/20"
    assert len(set(spaces)) == len(spaces)


def test_measure_make_reports_wall_peak_and_the_outcome(tmp_path):
    (tmp_path / "Makefile").write_text("ok:\n\t@echo first; echo done\nbad:\n\t@echo why >&2; exit 3\n")
    ok = bench.measure_make("ok", dict(os.environ), tmp_path)
    assert ok["exit_code"] == 0 and ok["last_line"] == "done" and ok["wall_s"] > 0
    bad = bench.measure_make("bad", dict(os.environ), tmp_path)
    assert bad["exit_code"] != 0 and "Error 3" in bad["last_line"]  # stderr's last line: make's own


def _summary(wall: float, submodules: int = 40, deferred: bool = True, stacks: int = 7, rss: float = 1000.0,
             config: float = 0.1) -> dict:
    phases = dict.fromkeys(bench.PHASES, (wall - config) / (len(bench.PHASES) - 1))
    phases["config"] = config
    return {"runs": 1, "wall_s": {"min": wall, "median": wall, "max": wall}, "phases_s": phases,
            "peak_rss_mib": rss, "python_peak_rss_mib": rss / 2, "stacks": stacks, "deferred_imports": deferred,
            "provider_submodules_loaded": submodules}


def _results(identical: bool = True, selected_walls: tuple[float, float] = (3.5, 3.6)) -> dict:
    points = [{"customers": g, "stacks": 7 + g, "all": _summary(4.0 + g / 10, stacks=7 + g, rss=1000 + 4 * g),
               "selected": _summary(wall, stacks=1, rss=900.0, config=0.1 + g / 1000)}
              for g, wall in zip((0, 50), selected_walls, strict=True)]
    marginal = {"wall_s": 0.1, "config_s": 0.001, "construct_s": 0.04, "synth_s": 0.04, "peak_rss_mib": 4.0,
                "python_peak_rss_mib": 1.0}
    results = {"machine": {"cpus": 2, "python": "3.11", "platform": "linux"}, "measured_at": "now",
               "modes": {"eager": _summary(14.0, 1648, False), "deferred": _summary(3.5, 39, True)},
               "deferred_over_eager": 0.25, "identical_output": identical, "files_compared": 8,
               "scaling": {"mode": "deferred", "selected": "dev", "points": points,
                           "marginal_per_environment": {"all": marginal,
                                                        "selected": {**marginal, "wall_s": 0.002}}}}
    results["goals"] = bench.goals(results)
    return results


def test_render_shows_both_modes_the_ratio_and_the_marginal_cost():
    text = bench.render(_results())
    assert "deferred / eager wall time: 0.25" in text
    assert "output byte-identical in both modes: yes (8 files)" in text
    assert ("marginal cost per environment, every stack: wall 0.100 s (config 0.001 s, construct 0.040 s, "
            "synth 0.040 s), peak RSS 4.0 MiB tree, 1.0 MiB Python") in text
    assert "marginal cost per environment, dev alone: wall 0.002 s" in text
    rows = {line.split()[0]: line for line in text.splitlines() if line.startswith(("eager ", "deferred "))
            and "/" not in line}
    assert "1648" in rows["eager"] and "14.00s" in rows["eager"]
    assert "39" in rows["deferred"] and "3.50s" in rows["deferred"]
    assert "output byte-identical in both modes: NO" in bench.render(_results(identical=False))
    scaling = [line for line in text.splitlines() if line.startswith(("   0 ", "  50 "))]
    assert len(scaling) == 2 and "57" in scaling[1] and "9.00s" in scaling[1] and "3.60s" in scaling[1]


def test_a_point_without_the_full_synth_shows_only_the_selected_one():
    results = _results()
    results["scaling"]["points"].append({"customers": 500, "stacks": 507, "all": None,
                                         "selected": _summary(3.7, stacks=1, config=0.6)})
    results["goals"] = bench.goals(results)
    (row,) = [line for line in bench.render(results).splitlines() if line.startswith(" 500 ")]
    assert "(not run: --all-max)" in row and row.endswith("0.60s   3.70s  1000 MiB  500 MiB")
    assert results["goals"][0]["goal"] == "one selected environment with 507 stacks within 10% of 7 stacks"


@pytest.mark.parametrize(("walls", "met"), [((3.5, 3.6), True), ((3.5, 3.9), False)])
def test_the_selected_synth_goal_compares_the_largest_point_with_the_smallest(walls, met):
    (goal, test, scan) = _results(selected_walls=walls)["goals"]
    assert goal["goal"] == "one selected environment with 57 stacks within 10% of 7 stacks"
    assert goal["value"] == pytest.approx(walls[1] / walls[0]) and goal["met"] is met
    assert (test["value"], test["met"], scan["value"], scan["met"]) == (None, None, None, None)
    assert f"{goal['value']:.2f}x - {'met' if met else 'NOT met'}" in bench.render(_results(selected_walls=walls))
    assert "warm make test <= 60 s: not measured" in bench.render(_results())


def test_make_goals_use_the_measured_walls_and_a_failed_run_is_not_a_measurement():
    results = _results()
    results["make_test"] = {"warm": {"wall_s": 58.0, "peak_rss_mib": 3000.0, "exit_code": 0, "last_line": ""},
                            "fresh_clone": {"wall_s": 75.0, "peak_rss_mib": 3000.0, "exit_code": 0,
                                            "last_line": "", "commit": "abc"}}
    results["make_scan"] = {"wall_s": 12.0, "peak_rss_mib": 1500.0, "exit_code": 1, "last_line": "FAILED x"}
    (_, test, scan) = bench.goals(results)
    assert (test["value"], test["met"]) == (58.0, True)
    assert (scan["value"], scan["met"]) == (None, None)
    results["goals"] = bench.goals(results)
    text = bench.render(results)
    assert "make test (warm): 58.0 s, peak tree RSS 3000 MiB" in text
    assert "make test (fresh clone, venvs built): 75.0 s" in text
    assert "make scan: 12.0 s, peak tree RSS 1500 MiB  FAILED (exit 1): FAILED x" in text


@pytest.mark.parametrize(("args", "fragment"), [
    (["--runs", "0"], "argument --runs: '0': allowed: a whole number ≥ 1"),
    (["--scale", "1,x"], "argument --scale: '1,x': allowed: comma-separated whole numbers from 0 to 500"),
    (["--scale", "-1"], "argument --scale: '-1': allowed"),
    (["--scale", "501"], "argument --scale: '501': allowed"),
    (["--select", "qa"], "--select 'qa': allowed: bootstrap, dev,"),
    (["--all-max", "x"], "argument --all-max: 'x': allowed: a whole number ≥ 0"),
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
