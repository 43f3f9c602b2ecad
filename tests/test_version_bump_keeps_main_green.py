"""A version bump must not turn main red (issue 13, item 1).

GIVEN a scratch copy of the repository, WHEN ``infra versions bump`` (what a service pipeline runs after
publishing a chart) and ``infra versions release staging`` (the staging re-resolve) change its live release
files, THEN the snapshot tests and the tests that expect particular versions (version model, version commands,
bad release input) still pass there: they read the frozen copies in tests/fixtures, never versions/. The live
files have checks of their own (tests/test_live_versions.py), which hold for any valid bump.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from infra.versions import load_catalog, load_release
from tests.conftest import REPO_ROOT

COPIED = ("infra", "building_blocks", "environments", "versions", "config", "tests", "pipelines",
          "azure-pipelines.yml", "main.py", "pyproject.toml", "cdktf.json")
# What runs in the scratch copy after the bump: the snapshot and version-model tests, and of the version-command
# and bad-input tests (each copies the same fixture folder) those that broke first when they read versions/.
INNER = ["tests/test_snapshots.py", "tests/test_versions_model.py",
         "tests/test_versions_cli.py::test_show_prints_exact_versions_locks_and_sources",
         "tests/test_versions_cli.py::test_release_staging_takes_the_catalog_but_keeps_locks",
         "tests/test_bad_input.py::test_release_naming_a_component_the_catalog_lacks",
         "tests/test_bad_input.py::test_release_with_a_floating_version",
         # the version-recording scripts' tests bump to fixed versions: they seed their origin from the fixtures
         "tests/test_pipelines.py::test_a_service_bump_becomes_an_auto_completing_pull_request_never_a_push_to_main",
         "tests/test_pipelines.py::test_concurrent_bumps_retry_on_a_fresh_main_and_an_older_bump_records_nothing",
         "tests/test_pipelines.py::test_release_staging_waits_for_its_pull_request_and_deploys_the_merge_commit"]


def _next_patch(version: str) -> str:
    major, minor, patch = version.removeprefix("v").split(".")[:3]
    return f"{'v' if version.startswith('v') else ''}{major}.{minor}.{int(patch.split('-')[0]) + 1}"


def _scratch_env() -> dict[str, str]:
    """This process's environment without what would point the inner run back here or at our xdist session."""
    return {name: value for name, value in os.environ.items()
            if not name.startswith(("INFRA_", "PYTEST_", "CDKTF_")) and name != "PYTHONPATH"}


def test_bump_and_release_staging_leave_snapshots_and_version_tests_green(tmp_path):
    scratch = tmp_path / "repo"
    for name in COPIED:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, scratch / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            scratch.mkdir(exist_ok=True)
            shutil.copy2(source, scratch / name)
    env = _scratch_env()

    def infra(*args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "infra.cli", "versions", *args], cwd=scratch, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    versions = scratch / "versions"
    catalog = load_catalog(versions)
    staging_before = load_release("staging", versions)
    bumped = {}
    for name in ("ingress-nginx", "api"):  # a third-party platform chart and one of the company's services
        bumped[name] = _next_patch(catalog.components[name].version)
        infra("bump", name, bumped[name])
    infra("release", "staging")

    dev, staging = load_release("dev", versions), load_release("staging", versions)
    assert {name: dev.components[name].version for name in bumped} == bumped  # the live files really moved
    assert {name: staging.components[name].version for name in bumped} == bumped
    assert staging.as_mapping() != staging_before.as_mapping()

    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                             f"--basetemp={tmp_path / 'inner'}", *INNER],
                            cwd=scratch, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "7 snapshots passed" in result.stdout, result.stdout[-2000:]
