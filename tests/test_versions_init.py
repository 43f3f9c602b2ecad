"""`infra versions init <env>`: the release file of a new environment, shaped by its kind (README, "Adding a
customer environment")."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import REPO_ROOT

INFRA = str(Path(sys.executable).parent / "infra")
FABRIKAM = '''from infra.settings import EnvironmentSettings

ENVIRONMENT = EnvironmentSettings(
    name="enterprise-fabrikam", kind="enterprise", short_name="entfabr", subscription="enterprise",
    address_space="10.41.0.0/16", release_from="production-neu",
    api_server_authorized_ip_ranges=("203.0.113.0/24",),
)
'''
LAB = '''from infra.settings import EnvironmentSettings

ENVIRONMENT = EnvironmentSettings(name="lab2", kind="external", kubeconfig_context="lab2",
                                  container_registry_login_server="registry.lab2.example", deploy_product=False)
'''


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    shutil.copytree(REPO_ROOT / "environments", tmp_path / "environments",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO_ROOT / "versions", tmp_path / "versions")
    return tmp_path


def infra(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INFRA_ENVIRONMENTS_DIR": str(workspace / "environments"),
           "INFRA_VERSIONS_DIR": str(workspace / "versions")}
    return subprocess.run([INFRA, *args], env=env, capture_output=True, text=True, timeout=60, cwd=workspace)


def release_file(workspace: Path, name: str) -> dict:
    return YAML(typ="safe").load((workspace / "versions" / "releases" / f"{name}.yaml").read_text())


def test_enterprise_follows_its_production_environment(workspace):
    (workspace / "environments" / "enterprise_fabrikam.py").write_text(FABRIKAM)
    result = infra(workspace, "versions", "init", "enterprise-fabrikam")
    assert result.returncode == 0, result.stderr
    assert release_file(workspace, "enterprise-fabrikam") == {"follows": "production-neu", "components": {}}
    shown = infra(workspace, "versions", "diff", "production-neu", "enterprise-fabrikam", "--json")
    assert shown.returncode == 0
    assert shown.stdout.strip() == "{}"


def test_external_follows_staging_without_dns_or_services(workspace):
    (workspace / "environments" / "lab2.py").write_text(LAB)
    result = infra(workspace, "versions", "init", "lab2")
    assert result.returncode == 0, result.stderr
    written = release_file(workspace, "lab2")
    assert written["follows"] == "staging"
    assert set(written["exclude"]) == {"external-dns", "api", "web", "worker"}


def test_an_existing_release_file_is_never_overwritten(workspace):
    before = (workspace / "versions" / "releases" / "staging.yaml").read_bytes()
    result = infra(workspace, "versions", "init", "staging")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "staging.yaml already exists" in result.stderr
    assert (workspace / "versions" / "releases" / "staging.yaml").read_bytes() == before


def test_an_unknown_environment_is_refused(workspace):
    result = infra(workspace, "versions", "init", "qa")
    assert result.returncode == 2
    assert "unknown environment 'qa'" in result.stderr
    assert not (workspace / "versions" / "releases" / "qa.yaml").exists()
