"""Bad input through the real entry point (`python main.py`): one line naming the file, environment, field,
value and what is allowed; exit code 2; no traceback; no file written or changed; no provider package imported.

The helpers here are shared by the other bad-input tests (tests/test_bad_input_classes.py, ...):
:func:`run_main` runs ``main.py`` as ``__main__`` in a subprocess and records which modules it imported, and
every file under the test's temporary folder before and after; :func:`assert_one_line_error` checks the
result: exit code, exactly one line on stderr with the given fragments, no traceback, no file changed (the
previous ``cdktf.out`` that :func:`run_main` puts in place included), and, unless the case must reach the
stacks, that no provider package (cdktf, jsii, constructs, cdktf_cdktf_provider_*) was imported.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_ENVIRONMENTS, FIXTURE_VERSIONS, REPO_ROOT

GOOD_DEV = '''from infra.settings import EnvironmentSettings

ENVIRONMENT = EnvironmentSettings(name="dev", kind="dev", address_space="10.10.0.0/16")
'''
# What a previous synthesis left behind; a refused run must leave it byte for byte.
PREVIOUS_OUTPUT = ("stacks/dev/cdk.tf.json", '{"previous": true}')
# Top-level packages that the provider import brings in: none of them may load before bad input is reported.
PROVIDER_PACKAGES = ("cdktf", "jsii", "constructs")
PROVIDER_PREFIX = "cdktf_cdktf_provider_"
# Runs main.py as __main__ (the real entry point) and writes the imported provider modules to a file, also
# when main() ends in sys.exit. INFRA_TEST_INJECT (optional) is Python run first: a fault the definitions
# cannot produce, for the few cases that must get as far as building the stacks.
PROBE = f"""
import json, os, runpy, sys
record, main_py = sys.argv[1], sys.argv[2]
sys.argv = [main_py, *sys.argv[3:]]
exec(os.environ.get("INFRA_TEST_INJECT", ""))
code = 0
try:
    runpy.run_path(main_py, run_name="__main__")
except SystemExit as exit:
    code = exit.code
finally:
    loaded = sorted(m for m in sys.modules
                    if m.split(".")[0] in {PROVIDER_PACKAGES!r} or m.startswith({PROVIDER_PREFIX!r}))
    with open(record, "w") as handle:
        json.dump(loaded, handle)
sys.exit(code)
"""


def copy_environments(tmp_path: Path) -> Path:
    """A copy of the fixture environments (tests/fixtures/environments: a frozen copy of environments/) that a
    test may break; the entry points get the fixture release files with it (entry_environment), so neither a
    live environment change nor a version bump changes what these tests expect."""
    folder = tmp_path / "environments"
    shutil.copytree(FIXTURE_ENVIRONMENTS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


@pytest.fixture
def environments(tmp_path: Path) -> Path:
    return copy_environments(tmp_path)


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under ``root``, by relative path."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def changes(before: dict[str, bytes | None], after: dict[str, bytes | None]) -> list[str]:
    """The paths added, removed or changed between two :func:`tree` snapshots."""
    return sorted(path for path in before.keys() | after.keys() if before.get(path, b"") != after.get(path, b""))


def previous_output(outdir: Path) -> None:
    """Put a previous synthesis in place (when there is none) for a refused run to leave alone."""
    if not outdir.exists():
        marker = outdir / PREVIOUS_OUTPUT[0]
        marker.parent.mkdir(parents=True)
        marker.write_text(PREVIOUS_OUTPUT[1])


def entry_environment(environments: Path, *, outdir: Path, versions: Path | None = None,
                      config: Path | None = None, variables: dict[str, str] | None = None) -> dict[str, str]:
    """The process environment that points the entry points at the test's copies."""
    env = {**os.environ, "INFRA_ENVIRONMENTS_DIR": str(environments), "INFRA_OUTDIR": str(outdir),
           **(variables or {})}
    if versions is not None or "INFRA_VERSIONS_DIR" not in (variables or {}):
        env["INFRA_VERSIONS_DIR"] = str(versions or FIXTURE_VERSIONS)
    if config is not None:
        env["INFRA_PLATFORM_CONFIG"] = str(config)
    for name in ("CDKTF_OUTDIR", "INFRA_DEBUG", "INFRA_TEST_INJECT"):
        if name not in (variables or {}):
            env.pop(name, None)
    return env


def run_entry(command: list[str], root: Path, env: dict[str, str], *, record: Path | None = None,
              timeout: float = 180, **options: object) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in the repository; attach ``changed`` (paths under ``root`` that the run changed) and
    ``imported`` (provider modules the run imported, when ``record`` names the probe's file)."""
    before = tree(root)
    if record is not None:
        before.pop(str(record.relative_to(root)), None)
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                            **options)  # type: ignore[call-overload]
    if record is not None:
        result.imported = json.loads(record.read_text()) if record.exists() else None  # type: ignore[attr-defined]
        record.unlink(missing_ok=True)  # the probe's own file, not a change of the run
    result.changed = changes(before, tree(root))  # type: ignore[attr-defined]
    return result


def run_main(environments: Path, *args: str, outdir: Path | None = None, versions: Path | None = None,
             config: Path | None = None, variables: dict[str, str] | None = None, **options: object,
             ) -> subprocess.CompletedProcess[str]:
    """``python main.py`` (through :data:`PROBE`) on the test's copies, with a previous output in place."""
    outdir = outdir or environments.parent / "cdktf.out"
    if outdir.parent.is_dir():
        previous_output(outdir)
    env = entry_environment(environments, outdir=outdir, versions=versions, config=config, variables=variables)
    return run_probe(REPO_ROOT / "main.py", *args, root=environments.parent, env=env, **options)


def run_probe(script: Path, *args: str, root: Path, env: dict[str, str], **options: object,
              ) -> subprocess.CompletedProcess[str]:
    """Run the Python ``script`` (``main.py``, the ``infra`` console script) as ``__main__`` through
    :data:`PROBE`, so that the result says which provider modules it imported."""
    record = root / ".imports.json"
    command = [sys.executable, "-c", PROBE, str(record), str(script), *args]
    return run_entry(command, root, env, record=record, **options)


# `make` adds its own status line after a recipe that fails; it is make's, not ours, and the one line before it
# is the program's.
MAKE_TRAILER = re.compile(r"^make: \*\*\* \[Makefile:\d+: [a-z-]+\] Error \d+$")


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str, code: int = 2,
                          providers: bool = False, make: bool = False) -> str:
    """The refusal rule (see the module docstring); ``providers=True`` for a case that must reach the stacks,
    ``make=True`` when the entry point is a make target. Returns the line."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    if make:
        assert lines and MAKE_TRAILER.match(lines[-1]), result.stderr
        lines = lines[:-1]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    changed = getattr(result, "changed", None)
    assert not changed, f"the refused run changed {changed}"
    imported = getattr(result, "imported", None)
    if imported is not None and not providers:
        assert imported == [], f"bad input reported only after importing {imported[:5]}"
    return lines[0]


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(("name", "fragment"), [
    ("Dev", "'Dev'"),
    ("dev_1", "'dev_1'"),
    ("a-very-long-environment-name", "'a-very-long-environment-name'"),
])
def test_invalid_or_too_long_name(environments, name, fragment):
    replace_in(environments / "dev.py", 'name="dev"', f'name="{name}"')
    result = run_main(environments)
    assert_one_line_error(result, "environments/dev.py", "field 'name'", fragment,
                          "allowed: 1-20 lowercase letters, digits and single hyphens")


def test_unknown_region(environments):
    replace_in(environments / "staging.py", 'kind="staging",', 'kind="staging", location="mars",')
    result = run_main(environments)
    assert_one_line_error(result, "environment 'staging'", "environments/staging.py", "field 'location' = 'mars'",
                          "allowed: westeurope, northeurope")


def test_two_environments_with_the_same_name(environments):
    (environments / "dev_copy.py").write_text(GOOD_DEV.replace("10.10.0.0/16", "10.11.0.0/16"))
    result = run_main(environments)
    assert_one_line_error(result, "environments/dev_copy.py", "'dev' is already defined in", "environments/dev.py")


def test_node_pool_min_greater_than_max(environments):
    replace_in(environments / "production_weu.py", "NodePoolSettings(min_count=3, max_count=12)",
               "NodePoolSettings(min_count=5, max_count=2)")
    result = run_main(environments)
    assert_one_line_error(result, "environment 'production-weu'", "user_pool", "'min_count' = 5",
                          "'max_count' = 2", "allowed: min_count ≤ max_count")


def test_required_setting_missing(environments):
    replace_in(environments / "staging.py", '    address_space="10.20.0.0/16",\n', "")
    result = run_main(environments)
    assert_one_line_error(result, "environment 'staging'", "field 'address_space' = None",
                          "allowed: an IPv4 CIDR from /16 to /22 (required)")


def test_required_argument_missing(environments):
    replace_in(environments / "dev.py", '    kind="dev",\n', "")
    result = run_main(environments)
    assert_one_line_error(result, "environments/dev.py", "missing 1 required keyword-only argument: 'kind'",
                          "allowed fields: name, kind")


def test_unknown_field(environments):
    replace_in(environments / "dev.py", 'kind="dev",', 'kind="dev", regoin="westeurope",')
    result = run_main(environments)
    assert_one_line_error(result, "environments/dev.py", "unexpected keyword argument 'regoin'",
                          "allowed fields:", "location")


def test_unknown_kind(environments):
    replace_in(environments / "dev.py", 'kind="dev"', 'kind="qa"')
    result = run_main(environments)
    assert_one_line_error(result, "field 'kind' = 'qa'", "allowed: dev, staging, production, enterprise, external")


def test_unknown_ingress_service_type(environments):
    replace_in(environments / "onprem.py", 'kind="external",', 'kind="external", ingress_service_type="Ingress",')
    result = run_main(environments)
    assert_one_line_error(result, "environment 'onprem'", "environments/onprem.py",
                          "field 'ingress_service_type' = 'Ingress'", "allowed: LoadBalancer, NodePort")


def test_bad_container_resources(environments):
    replace_in(environments / "dev.py", "from infra.settings import EnvironmentSettings",
               "import dataclasses\n\nfrom building_blocks.kubernetes.platform_options import ContainerResources\n"
               "from infra.settings import DEFAULT_PLATFORM_RESOURCES, EnvironmentSettings")
    replace_in(environments / "dev.py", 'kind="dev",', 'kind="dev", platform_resources=dataclasses.replace('
               'DEFAULT_PLATFORM_RESOURCES, external_dns=ContainerResources(cpu_request="10m", '
               'memory_request="1Gi", memory_limit="256Mi")),')
    result = run_main(environments)
    assert_one_line_error(result, "environments/dev.py", "memory_limit = '256Mi' is below memory_request = '1Gi'",
                          "allowed: a limit ≥ the request")


def test_wrong_type(environments):
    replace_in(environments / "dev.py", 'kind="dev",', 'kind="dev", private_cluster="yes",')
    result = run_main(environments)
    assert_one_line_error(result, "field 'private_cluster' = 'yes'", "allowed: True or False")


def test_overlapping_address_spaces_name_both_environments(environments):
    replace_in(environments / "staging.py", "10.20.0.0/16", "10.10.128.0/20")
    result = run_main(environments)
    assert_one_line_error(result, "environment 'staging'", "'10.10.128.0/20' overlaps '10.10.0.0/16'",
                          "environment 'dev'")


def test_production_without_api_server_restriction(environments):
    replace_in(environments / "production_neu.py", '    api_server_authorized_ip_ranges=("203.0.113.0/24",),\n', "")
    result = run_main(environments)
    assert_one_line_error(result, "environment 'production-neu'", "field 'api_server_authorized_ip_ranges'",
                          "at least one CIDR, or private_cluster=True")


def test_unknown_subscription_alias(environments):
    replace_in(environments / "dev.py", 'kind="dev",', 'kind="dev", subscription="sandbox",')
    result = run_main(environments)
    assert_one_line_error(result, "environment 'dev'", "field 'subscription' = 'sandbox'",
                          "allowed: enterprise, management, nonprod, production")


def test_syntax_error_names_file_and_line(environments):
    (environments / "dev.py").write_text(GOOD_DEV.replace('kind="dev",', 'kind="dev"'))
    result = run_main(environments)
    assert_one_line_error(result, "environments/dev.py:3: syntax error")


def test_module_without_environment(environments):
    (environments / "notes.py").write_text("X = 1\n")
    result = run_main(environments)
    assert_one_line_error(result, "environments/notes.py: defines no ENVIRONMENT",
                          "allowed: ENVIRONMENT = EnvironmentSettings(...)")


def test_bad_cli_argument(environments):
    result = run_main(environments, "--env", "dev")
    assert_one_line_error(result, "main.py takes no arguments, got '--env dev'", "make synth")


@pytest.mark.parametrize("value", ["yes", "true", "2"])
def test_bad_eager_imports_switch(environments, tmp_path, value):
    result = run_main(environments, variables={"INFRA_EAGER_IMPORTS": value})
    assert_one_line_error(result, f"INFRA_EAGER_IMPORTS={value!r}", "allowed are 1", "0 / unset")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cdktf.out", "environments"]  # nothing written


def test_failed_synth_leaves_previous_output_untouched(environments, tmp_path):
    outdir = tmp_path / "out"
    (outdir / "stacks" / "dev").mkdir(parents=True)
    previous = outdir / "stacks" / "dev" / "cdk.tf.json"
    previous.write_text('{"previous": true}')
    replace_in(environments / "dev.py", 'kind="dev"', 'kind="qa"')
    result = run_main(environments, outdir=outdir)
    assert_one_line_error(result, "field 'kind' = 'qa'")
    assert previous.read_text() == '{"previous": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["environments", "out"]  # no half-written sibling


@pytest.fixture
def versions(tmp_path: Path) -> Path:
    """A copy of the fixture release files (tests/fixtures/versions) that a test may break."""
    folder = tmp_path / "versions"
    shutil.copytree(FIXTURE_VERSIONS, folder)
    return folder


def test_release_naming_a_component_the_catalog_lacks(environments, versions):
    replace_in(versions / "releases" / "staging.yaml", "  ingress-nginx: 4.14.5\n",
               "  ingress-nginx: 4.14.5\n  grafana: 8.0.0\n")
    result = run_main(environments, versions=versions)
    assert_one_line_error(result, "staging.yaml", "grafana")


def test_release_with_a_floating_version(environments, versions):
    replace_in(versions / "releases" / "staging.yaml", "  ingress-nginx: 4.14.5\n", "  ingress-nginx: latest\n")
    result = run_main(environments, versions=versions)
    assert_one_line_error(result, "staging.yaml", "ingress-nginx", "latest")


def test_environment_without_a_release_file(environments, versions):
    (versions / "releases" / "production-neu.yaml").unlink()
    result = run_main(environments, versions=versions)
    assert_one_line_error(result, "environment 'production-neu' has no release file")


@pytest.mark.parametrize(("old", "new", "fragments"), [
    ('tenant_id = "00000000-0000-0000-0000-000000000000"', 'tenant_id = "my-tenant"',
     ("platform.toml", "tenant_id = 'my-tenant' is not a lowercase GUID")),
    ('workload = "nwt"', 'workload = "Northwind"',
     ("platform.toml", "[company] workload = 'Northwind'", "allowed: 2-6 lowercase letters or digits")),
    ('domain = "northwind.example"', 'domain = "northwind"',
     ("platform.toml", "[company] domain = 'northwind' is not a lowercase FQDN")),
    ("[company]", "[company", ("platform.toml", "cannot read TOML")),
    ('subscription = "management"', 'subscription = "mgmt"',
     ("platform.toml [state]", "field 'subscription' = 'mgmt'", "allowed: enterprise, management")),
])
def test_broken_company_configuration(environments, tmp_path, old, new, fragments):
    config = tmp_path / "platform.toml"
    config.write_text((REPO_ROOT / "config" / "platform.toml").read_text())
    replace_in(config, old, new)
    result = run_main(environments, config=config)
    assert_one_line_error(result, *fragments)
