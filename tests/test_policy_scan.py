"""The policy gate in `make test`: checkov over every synthesized stack, no failure outside the committed skip
list, no stale skip, no parsing error."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from infra import scan
from infra.errors import ConfigError
from tests.conftest import shared


@pytest.fixture(scope="session")
def results(synthesized, registry, tmp_path_factory):
    """One scan of the shared synthesized output per session, in two checkov processes (batches), so the gate
    also covers merging the reports of parallel runs; with pytest-xdist the first worker to ask scans, the
    others read its results (tests/conftest.py ``shared``)."""
    skips = scan.load_skips(environments=registry.stack_names)

    def build(folder: Path) -> None:
        found = scan.run_checkov(synthesized.outdir / "stacks", registry.stack_names, skips, workers=2)
        (folder / "results.json").write_text(json.dumps({name: dataclasses.asdict(r) for name, r in found.items()}))

    folder = shared(tmp_path_factory, "checkov", build)
    stored = json.loads((folder / "results.json").read_text())
    found = {name: scan.StackResult(passed=r["passed"], parsing_errors=r["parsing_errors"],
                                    failed=[scan.Finding(**f) for f in r["failed"]],
                                    skipped=[scan.Finding(**f) for f in r["skipped"]])
             for name, r in stored.items()}
    return found, skips


def test_checkov_reports_no_failure_outside_the_skip_list(results):
    found, _ = results
    print("\n" + scan.table(found))
    failures = [f"{f.check} {f.environment} {f.resource}: {f.name}" for r in found.values() for f in r.failed]
    assert failures == []


def test_checkov_parsed_every_stack_and_ran_checks(results, registry):
    found, _ = results
    assert set(found) == set(registry.stack_names)
    assert {name: r.parsing_errors for name, r in found.items() if r.parsing_errors} == {}
    # A scan that silently checks nothing would pass the gate: every Azure stack must have run checks.
    for env in [registry.bootstrap.name, *(e.name for e in registry.environments if e.has_azure_cluster)]:
        assert found[env].passed > 0, env


def test_every_skip_still_matches_a_finding(results):
    found, skips = results
    assert [f"{s.check} {s.environments}" for s in scan.unused_skips(found, skips)] == []


def test_skip_covers_only_what_it_names():
    skip = scan.Skip(check="CKV_AZURE_1", environments=("dev",), resources=("azurerm_key_vault.*",),
                     reason="a reason that is long enough")
    assert skip.covers("dev", "azurerm_key_vault.kv_1234", "CKV_AZURE_1")
    assert not skip.covers("staging", "azurerm_key_vault.kv_1234", "CKV_AZURE_1")
    assert not skip.covers("dev", "azurerm_storage_account.st", "CKV_AZURE_1")
    assert not skip.covers("dev", "azurerm_key_vault.kv_1234", "CKV_AZURE_2")


@pytest.mark.parametrize(("text", "message"), [
    ("- check: CKV_AZURE_1\n  environments: [dev]\n", "reason must be one line of at least 20 characters"),
    ("- check: AZ1\n  environments: [dev]\n  reason: long enough reason here\n", "allowed: a checkov id"),
    ("- check: CKV_AZURE_1\n  environments: [qa]\n  reason: long enough reason here\n",
     "unknown environment 'qa'"),
    ("- check: CKV_AZURE_1\n  environments: '*'\n  reason: long enough reason here\n",
     "needs a reason that says why it holds for all environments"),
    ("- check: CKV_AZURE_1\n  environments: [dev]\n  reason: long enough reason here\n  why: x\n",
     "allowed keys: check, environments, resources, reason"),
])
def test_bad_skip_entries_are_refused(tmp_path, text, message):
    path = tmp_path / "checkov-skips.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        scan.load_skips(path, environments=["dev", "staging"])


@pytest.mark.parametrize(("count", "expected"), [
    (1, [["a", "b", "c", "d"]]),
    (2, [["a", "d"], ["b", "c"]]),      # 10 + 1 and 5 + 5: largest first, each into the lightest batch
    (3, [["a"], ["b", "d"], ["c"]]),
    (9, [["a"], ["b"], ["c"], ["d"]]),  # never an empty batch
])
def test_stacks_are_split_into_batches_of_about_equal_size(count, expected):
    assert scan.batches({"a": 10, "b": 5, "c": 5, "d": 1}, count) == expected


def test_scan_workers_follow_the_cores_the_variable_and_the_stack_count(monkeypatch):
    monkeypatch.delenv(scan.WORKERS_VARIABLE, raising=False)
    monkeypatch.setattr(scan.os, "cpu_count", lambda: 16)
    assert scan.scan_workers(50) == scan.MAX_WORKERS
    assert scan.scan_workers(3) == 3
    monkeypatch.setenv(scan.WORKERS_VARIABLE, "2")
    assert scan.scan_workers(50) == 2
    monkeypatch.setenv(scan.WORKERS_VARIABLE, "lots")
    with pytest.raises(ConfigError, match=r"^INFRA_SCAN_WORKERS='lots'; allowed: a whole number ≥ 1, or unset"):
        scan.scan_workers(7)
