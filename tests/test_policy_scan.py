"""The policy gate in `make test`: checkov over every synthesized stack, no failure outside the committed skip
list, no stale skip, no parsing error."""

from __future__ import annotations

import pytest

from infra import scan
from infra.errors import ConfigError


@pytest.fixture(scope="session")
def results(synthesized, registry):
    skips = scan.load_skips(environments=registry.stack_names)
    return scan.run_checkov(synthesized.outdir / "stacks", registry.stack_names, skips), skips


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
