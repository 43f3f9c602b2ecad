"""The classes of bad input of issue 14, each through the real entry points (`python main.py`, `make synth`,
`infra ...`, `make deploy` / `make diff`), each case asserting the refusal rule of
:func:`tests.test_bad_input.assert_one_line_error`: exit code, one line on stderr naming the file or field and
what is allowed, no traceback, no file changed, the previous cdktf.out intact, and, for everything the
definitions, the configuration and the release files can tell, no provider package imported.

1. late validation (checked only while the stacks were built)     5. an unwritable INFRA_OUTDIR
2. wrong shapes in config/platform.toml                           6. Ctrl-C
3. wrong shapes in environment files and integration specs        7. make deploy / diff without az, login or Terraform
4. a pin the catalog does not know                                8. messages that pointed elsewhere
plus the classes found on the way (values with a trailing newline, firewall ranges Azure refuses at apply).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import FIXTURE_VERSIONS, REPO_ROOT
from tests.test_bad_input import (
    assert_one_line_error,
    copy_environments,
    entry_environment,
    previous_output,
    replace_in,
    run_entry,
    run_main,
    run_probe,
)

INFRA = Path(sys.executable).with_name("infra")


@pytest.fixture
def environments(tmp_path: Path) -> Path:
    return copy_environments(tmp_path)


@pytest.fixture
def versions(tmp_path: Path) -> Path:
    """A copy of the fixture release files, the pair of copy_environments' fixture environments."""
    folder = tmp_path / "versions"
    shutil.copytree(FIXTURE_VERSIONS, folder)
    return folder


def release_pin(release: Path, component: str) -> str:
    """The version a release file pins ``component`` to (the short ``name: version`` form)."""
    match = re.search(rf"^  {re.escape(component)}: (\S+)$", release.read_text(), re.MULTILINE)
    assert match, f"{component} has no short pin in {release}"
    return match.group(1)


def catalog_latest(versions: Path, component: str) -> str:
    """The catalog's latest version of ``component``."""
    catalog = yaml.safe_load((versions / "catalog.yaml").read_text())
    return str(catalog["components"][component]["version"])


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "platform.toml"
    shutil.copyfile(REPO_ROOT / "config" / "platform.toml", path)
    return path


def run_make(target: str, environments: Path, *make_args: str, versions: Path | None = None,
             config: Path | None = None, path: str | None = None) -> subprocess.CompletedProcess[str]:
    """``make <target>`` in the repository, pointed at the test's copies (a previous output in place)."""
    outdir = environments.parent / "cdktf.out"
    previous_output(outdir)
    env = entry_environment(environments, outdir=outdir, versions=versions, config=config)
    if path is not None:
        env["PATH"] = path
    for name in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS"):
        env.pop(name, None)
    return run_entry(["make", target, *make_args], environments.parent, env)


def run_infra(environments: Path, *args: str, versions: Path | None = None,
              config: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The ``infra`` console script (as installed by `make setup`), through the import probe."""
    env = entry_environment(environments, outdir=environments.parent / "cdktf.out", versions=versions,
                            config=config)
    return run_probe(INFRA, *args, root=environments.parent, env=env)


# --- 1. late validation: checked before the provider import now; what still slips through, caught at the top ---


def test_dns_label_a_dns_label_cannot_be(environments):
    replace_in(environments / "dev.py", 'kind="dev",', 'kind="dev", dns_label="Dev_Zone",')
    assert_one_line_error(run_main(environments), "environment 'dev'", "environments/dev.py",
                          "field 'dns_label' = 'Dev_Zone'", "allowed: one DNS label: 1-63 lowercase letters")


def test_dns_label_too_long_for_the_company_domain(environments, config):
    # 63 + ".northwind.example" is a valid label but the zone name passes 253 only with a long domain; here the
    # label itself is one character too long.
    replace_in(environments / "staging.py", 'kind="staging",', f'kind="staging", dns_label="{"s" * 64}",')
    assert_one_line_error(run_main(environments, config=config), "environment 'staging'",
                          "field 'dns_label'", "allowed: one DNS label: 1-63")


def test_state_location_that_is_not_a_known_region(environments, config):
    replace_in(config, 'location = "westeurope"', 'location = "mars"')
    assert_one_line_error(run_main(environments, config=config), "platform.toml: [state] location = 'mars'",
                          "allowed: westeurope, northeurope")


def test_state_location_through_make_synth(environments, config):
    replace_in(config, 'location = "westeurope"', 'location = "West Europe"')
    assert_one_line_error(run_make("synth", environments, config=config), "[state] location = 'West Europe'",
                          "allowed: westeurope", make=True)


def test_integrations_that_the_release_file_does_not_run(environments):
    text = (environments / "enterprise_contoso.py").read_text()
    start, end = text.index("    integrations=("), text.index("    ),\n)") + len("    ),\n")
    (environments / "enterprise_contoso.py").write_text(text[:start] + text[end:])
    assert_one_line_error(run_main(environments), "environment 'enterprise-contoso'",
                          "field 'integrations' names [] but ",  # the fixture release files (tests/fixtures)
                          "versions/releases/enterprise-contoso.yaml runs the integration components "
                          "['sso-bridge']", "allowed: the same components in both")


def test_external_dns_where_there_is_no_dns_zone(environments, versions):
    replace_in(versions / "releases" / "onprem.yaml", "exclude:\n  - external-dns\n", "")
    assert_one_line_error(run_main(environments, versions=versions), "onprem.yaml: runs external-dns",
                          "environment 'onprem' (kind external) has no Azure DNS zone",
                          "allowed: exclude: [external-dns]")


@pytest.mark.parametrize(("ranges", "fragment"), [
    ('("203.0.113.0/24", "198.51.100.0/31")', "'198.51.100.0/31'; allowed: a prefix up to /30"),
    ('("203.0.113.0/24", "203.0.113.0/24")', "'203.0.113.0/24'; allowed: each range once"),
])
def test_key_vault_ranges_the_vault_refuses(environments, ranges, fragment):
    replace_in(environments / "dev.py", '("203.0.113.0/24",)', ranges)
    assert_one_line_error(run_main(environments), "environment 'dev'",
                          f"field 'api_server_authorized_ip_ranges' = {fragment}")


def test_duplicate_availability_zones(environments):
    replace_in(environments / "production_weu.py", 'kind="production",',
               'kind="production", availability_zones=("1", "1"),')
    assert_one_line_error(run_main(environments), "environment 'production-weu'",
                          "field 'availability_zones' = ('1', '1')", "allowed: a tuple of distinct zones")


# A check only a building block makes (here injected: the definitions cannot produce one any more) is caught
# at the top and named by environment and file; this one reaches the stacks, so it pays the provider
# import (tests/test_bad_input_names.py covers the other failures of that path in-process).
REFUSE_POSTGRES_DAY = """
import building_blocks.maintenance as maintenance
_check = maintenance.check_maintenance_window
def _refuse(owner, day, hour):
    if owner == "PostgresServer":
        raise ValueError(f"{owner} maintenance_day = {day!r}; allowed: none (injected by the test)")
    return _check(owner, day, hour)
maintenance.check_maintenance_window = _refuse
"""


def test_construct_time_error_is_one_line_naming_environment_and_field(environments):
    result = run_main(environments, variables={"INFRA_TEST_INJECT": REFUSE_POSTGRES_DAY})
    assert_one_line_error(result, "environment 'dev' (", "environments/dev.py): refused while building its "
                          "stack: PostgresServer maintenance_day = 'Tuesday'; allowed: none", providers=True)
    assert result.imported, "the injected fault is a construct-time one"


# --- 2. wrong shapes in config/platform.toml -------------------------------------------------------------


def table_as_value(config: Path, section: str, value: str) -> None:
    """Write ``section = value`` at the top level (where TOML puts a key before any table) in place of the
    table ``[section]``, whose keys move to an unused table."""
    replace_in(config, f"[{section}]\n", f"[unused-{section}]\n")
    config.write_text(f"{section} = {value}\n" + config.read_text())


@pytest.mark.parametrize(("section", "value", "fragment"), [
    ("subscriptions", '["a"]', "subscriptions = ['a'] is an array; allowed: a table, e.g. [subscriptions] "
                               'followed by nonprod = "<subscription id>"'),
    ("company", '"northwind"', "company = 'northwind' is a string; allowed: a table, e.g. [company] followed by"),
])
def test_a_value_where_a_table_belongs_in_platform_toml(environments, config, section, value, fragment):
    table_as_value(config, section, value)
    assert_one_line_error(run_main(environments, config=config), "platform.toml: ", fragment)


@pytest.mark.parametrize(("old", "new", "fragment"), [
    ('location = "westeurope"', "location = 1", "[state] location = 1 is an integer; allowed: a non-empty string"),
    ('tenant_id = "00000000-0000-0000-0000-000000000000"', "tenant_id = [1]", "[company] tenant_id = [1] is an "
                                                                              "array"),
    ('owner = "platform-team@northwind.example"\n', "", "[company] owner is missing; allowed: owner = "),
    ('nonprod = "11111111-1111-1111-1111-111111111111"', "nonprod = { id = 1 }",
     "[subscriptions] nonprod = {'id': 1} is a table; allowed: a non-empty string"),
])
def test_a_key_of_the_wrong_type_in_platform_toml(environments, config, old, new, fragment):
    replace_in(config, old, new)
    assert_one_line_error(run_main(environments, config=config), "platform.toml: ", fragment)


def test_wrong_shape_in_platform_toml_through_make_synth(environments, config):
    table_as_value(config, "state", "false")
    assert_one_line_error(run_make("synth", environments, config=config),
                          "state = False is a boolean; allowed: a table, e.g. [state]", make=True)


def test_wrong_shape_in_platform_toml_through_infra(environments, config):
    table_as_value(config, "company", "3")
    assert_one_line_error(run_infra(environments, "environments", config=config),
                          "company = 3 is an integer; allowed: a table")


# --- 3. wrong shapes in environment files and integration specs: the file, the field, the value written ---


@pytest.mark.parametrize(("old", "new", "fragments"), [
    ('("203.0.113.0/24",)', '("203.0.113.0/24")',
     ("field 'api_server_authorized_ip_ranges' = '203.0.113.0/24'; allowed: a tuple of strings",
      "(one value needs the trailing comma: ('203.0.113.0/24',))")),
    ('("203.0.113.0/24",)', '["203.0.113.0/24"]',
     ("field 'api_server_authorized_ip_ranges' = ['203.0.113.0/24']", "round brackets ( ), not a list [ ]")),
    ('kind="dev",', 'kind="dev", cluster_admin_group_object_ids="00000000-0000-0000-0000-000000000001",',
     ("field 'cluster_admin_group_object_ids' = '00000000-0000-0000-0000-000000000001'", "a tuple of strings")),
    ('kind="dev",', 'kind="dev", secret_rotation=["app-signing-key"],',
     ("field 'secret_rotation' = ['app-signing-key']; allowed: a dict of strings to integers",)),
    ('kind="dev",', 'kind="dev", maintenance_start_hour="2",',
     ("field 'maintenance_start_hour' = '2'; allowed: an integer",)),
])
def test_wrong_shape_in_an_environment_file(environments, old, new, fragments):
    replace_in(environments / "dev.py", old, new)
    assert_one_line_error(run_main(environments), "environment 'dev'", "environments/dev.py", *fragments)


def test_a_list_for_extra_tags_names_the_field(environments):
    replace_in(environments / "enterprise_contoso.py", 'extra_tags={"customer": "contoso"}', 'extra_tags=["contoso"]')
    assert_one_line_error(run_main(environments), "environment 'enterprise-contoso'",
                          "environments/enterprise_contoso.py", "field 'extra_tags' = ['contoso']",
                          "allowed: a dict of strings to strings")


def test_a_node_pool_of_the_wrong_shape(environments):
    replace_in(environments / "production_weu.py", "NodePoolSettings(min_count=3, max_count=12)",
               'NodePoolSettings(min_count="3", max_count=12)')
    assert_one_line_error(run_main(environments), "environment 'production-weu'", "user_pool",
                          "field 'min_count' = '3'; allowed: an integer")


@pytest.mark.parametrize(("old", "new", "fragments"), [
    ("allowed_email_domains=", "replicas=0, allowed_email_domains=",
     ("integration 'sso-bridge': field 'replicas' = 0; allowed: an integer from 1 to 10",)),
    ('issuer_url="https://', 'issuer_url="http://',
     ("integration 'sso-bridge': field 'issuer_url' = 'http://login.microsoftonline.com/", "allowed: an https:// URL")),
    ('("contoso.com",)', '("contoso.com")',
     ("field 'allowed_email_domains' = 'contoso.com'", "one domain needs the trailing comma")),
    ('            client_id="7c0e2b1a-4d5f-4e6a-9b8c-1d2e3f4a5b6c",\n', "",
     ("SsoBridge.__init__() missing 1 required keyword-only argument: 'client_id'",
      "allowed fields: namespace, host_label, issuer_url, client_id")),
])
def test_integration_spec_errors_name_the_environment_file_and_line(environments, old, new, fragments):
    path = environments / "enterprise_contoso.py"
    replace_in(path, old, new)
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "SsoBridge(" in text)
    assert_one_line_error(run_main(environments), f"environments/enterprise_contoso.py:{line}: ", *fragments)


# --- 4. a pin the catalog does not know: the catalog is the list of versions that exist --------------------


def test_a_pin_newer_than_the_catalog_is_refused_by_synth(environments, versions):
    replace_in(versions / "releases" / "enterprise-contoso.yaml", "  sso-bridge:\n",
               "  api:\n    version: 1.99.0\n    image_tag: 1.99.0\n  sso-bridge:\n")
    assert_one_line_error(run_main(environments, versions=versions), "enterprise-contoso.yaml:",
                          "components.api: version = '1.99.0'; allowed: 1.42.0 or older",
                          "record it first: infra versions bump api 1.99.0")


def test_a_pin_newer_than_the_catalog_is_refused_by_versions_check(environments, versions):
    # Read from the live files, so a version bump or release never breaks this test (issue 13, item 1).
    staging = versions / "releases" / "staging.yaml"
    pinned = release_pin(staging, "ingress-nginx")
    latest = catalog_latest(versions, "ingress-nginx")
    replace_in(staging, f"  ingress-nginx: {pinned}\n", "  ingress-nginx: 99.0.0\n")
    assert_one_line_error(run_infra(environments, "versions", "check", versions=versions),
                          "versions/releases/staging.yaml:", "components.ingress-nginx: version = '99.0.0'",
                          f"allowed: {latest} or older")


def test_a_pin_in_another_style_than_the_catalog_is_refused(environments, versions):
    release = versions / "releases" / "production-neu.yaml"
    pinned = release_pin(release, "cert-manager")
    replace_in(release, f"cert-manager: {pinned}", f"cert-manager: {pinned.removeprefix('v')}")
    assert_one_line_error(run_make("synth", environments, versions=versions), "production-neu.yaml:",
                          f"components.cert-manager: version = '{pinned.removeprefix('v')}'",
                          "allowed: a version written with a leading 'v', like the catalog's "
                          f"{catalog_latest(versions, 'cert-manager')}", make=True)


# --- 5. an unwritable INFRA_OUTDIR --------------------------------------------------------------------------


def test_outdir_below_a_file(environments, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    result = run_main(environments, outdir=tmp_path / "a-file" / "cdktf.out")
    assert_one_line_error(result, f"output folder {tmp_path}/a-file/cdktf.out (from INFRA_OUTDIR)",
                          f"cannot be created, {tmp_path}/a-file is a file", "allowed: a folder path")


def test_outdir_that_is_a_file(environments, tmp_path):
    (tmp_path / "out").write_text("not a folder")
    result = run_main(environments, outdir=tmp_path / "out")
    assert_one_line_error(result, f"output folder {tmp_path}/out (from INFRA_OUTDIR): is a file, not a folder",
                          "set INFRA_OUTDIR to one")


def test_outdir_that_cannot_be_created(environments):
    result = run_main(environments, outdir=Path("/proc/no-such-folder/cdktf.out"))
    assert_one_line_error(result, "output folder /proc/no-such-folder/cdktf.out (from INFRA_OUTDIR): cannot be "
                          "created in /proc/no-such-folder: No such file or directory")


# --- 6. Ctrl-C: "interrupted", exit code 130, the previous output as it was --------------------------------

INTERRUPT_BEFORE_PROVIDERS = """
import os, signal, infra.app
_load = infra.app.load_releases
def _interrupted(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGINT)
    return _load(*args, **kwargs)
infra.app.load_releases = _interrupted
"""
# What a terminal's Ctrl-C does: SIGINT to the whole process group, the jsii kernel (node) included, here once
# every stack is built and the kernel is busiest.
INTERRUPT_WITH_THE_KERNEL_RUNNING = """
import os, signal, infra.app
_build = infra.app.build_app
def _interrupted(*args, **kwargs):
    app = _build(*args, **kwargs)
    os.killpg(os.getpgid(0), signal.SIGINT)
    return app
infra.app.build_app = _interrupted
"""


@pytest.mark.parametrize("inject", [INTERRUPT_BEFORE_PROVIDERS, INTERRUPT_WITH_THE_KERNEL_RUNNING],
                         ids=["before-the-provider-import", "jsii-kernel-running"])
def test_ctrl_c_exits_130_and_leaves_the_previous_output(environments, tmp_path, inject):
    result = run_main(environments, variables={"INFRA_TEST_INJECT": inject}, start_new_session=True)
    assert_one_line_error(result, f"error: interrupted; {tmp_path}/cdktf.out is as it was", code=130,
                          providers=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cdktf.out", "environments"]  # no staging folder


# --- 7. make deploy / make diff: ENV, Terraform and the Azure login first, before any install ---------------


def fake_tools(folder: Path, *, az: str | None = "logged-in", terraform: str | None = "1.11.4") -> str:
    """A PATH with stand-ins for `az` (logged-in / logged-out / absent) and `terraform` (a version / absent),
    and without the machine's own (they live in /usr/local/bin)."""
    folder.mkdir()
    scripts = {}
    if az == "logged-in":
        scripts["az"] = "exit 0"
    elif az == "logged-out":
        scripts["az"] = "echo \"ERROR: Please run 'az login' to setup account.\" >&2; exit 1"
    if terraform is not None:
        scripts["terraform"] = f"echo '{{\"terraform_version\": \"{terraform}\", \"platform\": \"linux_amd64\"}}'"
    for name, body in scripts.items():
        (folder / name).write_text(f"#!/bin/sh\n{body}\n")
        (folder / name).chmod(0o755)
    return f"{folder}:/usr/bin:/bin"


def fresh_clone(tmp_path: Path) -> Path:
    """The working tree as a fresh clone has it: tracked and new files only, no .venv, no node_modules."""
    clone = tmp_path / "clone"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    return clone


def test_fresh_clone_make_deploy_rejects_an_unknown_env_before_installing_anything(tmp_path):
    clone = fresh_clone(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INFRA_", "MAKE", "MFLAGS"))}
    # The machine's Python (not the venv's): a fresh clone has no venv yet.
    python = getattr(sys, "_base_executable", sys.executable)
    started = time.monotonic()
    result = subprocess.run(["make", "-C", str(clone), "deploy", "ENV=nonexistent", f"PYTHON={python}"],
                            env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - started
    before = sorted(p.name for p in clone.iterdir())
    assert_one_line_error(result, "make deploy: ENV='nonexistent' is not a stack",
                          "allowed: bootstrap, dev, staging", make=True)
    assert not (clone / ".venv").exists() and not (clone / "node_modules").exists()
    assert sorted(p.name for p in clone.iterdir()) == before
    assert elapsed < 5, f"took {elapsed:.1f} s"


def test_make_diff_without_env(environments, tmp_path):
    result = run_make("diff", environments, "ENV=", path=fake_tools(tmp_path / "bin"))
    assert_one_line_error(result, "make diff: ENV is not set; allowed: make diff ENV=<stack>, one of bootstrap",
                          make=True)


@pytest.mark.parametrize(("target", "tools", "fragments"), [
    ("deploy", {"az": None}, ("make deploy: az (the Azure CLI) is not on PATH", "install it (https://learn."
                              "microsoft.com/cli/azure/install-azure-cli), then run az login")),
    ("diff", {"az": "logged-out"}, ("make diff: not logged in to Azure (az account show: ERROR: Please run 'az "
                                    "login' to setup account.); run az login",)),
    ("deploy", {"terraform": "1.5.7"}, ("make deploy: terraform 1.5.7 (", "the stacks need >= 1.11.0, < 2.0.0",
                                        "https://developer.hashicorp.com/terraform/install")),
    ("diff", {"terraform": None}, ("make diff: terraform is not on PATH; the stacks need Terraform >= 1.11.0",)),
])
def test_make_deploy_and_diff_say_what_is_missing(environments, tmp_path, target, tools, fragments):
    started = time.monotonic()
    result = run_make(target, environments, "ENV=dev", path=fake_tools(tmp_path / "bin", **tools))
    assert_one_line_error(result, *fragments, make=True)
    assert time.monotonic() - started < 10  # no npm install, no cdktf CLI


# --- 8. messages that point at the thing to change and the command that fixes it ----------------------------


def test_deleted_release_file_is_reported_as_itself(environments, versions):
    # enterprise-contoso follows production-weu: the deleted file, not its follower, is what to fix.
    (versions / "releases" / "production-weu.yaml").unlink()
    line = assert_one_line_error(run_main(environments, versions=versions),
                                 "environment 'production-weu' has no release file",
                                 "create it with `infra versions init production-weu`", "git checkout --")
    assert "enterprise-contoso" not in line


def test_missing_release_file_names_infra_versions_init(environments, versions):
    (versions / "releases" / "onprem.yaml").unlink()
    assert_one_line_error(run_infra(environments, "versions", "check", versions=versions),
                          "environment 'onprem' has no release file", "`infra versions init onprem`")


def test_following_a_release_file_that_is_gone_names_both(environments, versions):
    (versions / "releases" / "staging.yaml").unlink()
    assert_one_line_error(run_infra(environments, "versions", "show", "onprem", versions=versions),
                          "onprem.yaml: follows = 'staging'; allowed: 'catalog' or an environment with a "
                          "release file", "versions/releases/staging.yaml was deleted, restore it",
                          "infra versions init staging")


@pytest.mark.parametrize(("args", "fragment"), [
    (("versions", "check", "--json"), "error: infra versions check: unrecognized arguments: --json; allowed: "
                                      "infra versions check [-h]"),
    (("environments", "--json"), "error: infra environments: unrecognized arguments: --json"),
    (("versions", "lock", "api", "--env", "staging", "--json"), "error: infra versions lock: unrecognized "
                                                                "arguments: --json"),
])
def test_an_option_a_command_lacks_is_reported_by_that_command(environments, args, fragment):
    assert_one_line_error(run_infra(environments, *args), fragment)


def test_lock_help_and_behaviour_agree_on_production(environments, versions):
    result = subprocess.run([str(INFRA), "versions", "lock", "--help"], capture_output=True, text=True, timeout=60)
    assert "staging, production-*" in " ".join(result.stdout.split())
    locked = run_infra(environments, "versions", "lock", "api", "--env", "production-weu", versions=versions)
    assert locked.returncode == 0, locked.stderr
    refused = run_infra(environments, "versions", "lock", "sso-bridge", "--env", "enterprise-contoso",
                        versions=versions)
    assert_one_line_error(refused, "enterprise-contoso.yaml: lock works on an environment that lists its own "
                          "versions")


# --- found on the way ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("file", "old", "new", "fragment"), [
    ("dev.py", 'name="dev"', 'name="dev\\n"', "field 'name' = 'dev\\n'"),
    ("onprem.py", 'registry.onprem-lab.northwind.example"', 'registry.onprem-lab.northwind.example\\n"',
     "field 'container_registry_login_server' = 'registry.onprem-lab.northwind.example\\n'"),
])
def test_a_trailing_newline_does_not_pass_a_pattern(environments, file, old, new, fragment):
    replace_in(environments / file, old, new)
    assert_one_line_error(run_main(environments), fragment)


@pytest.mark.parametrize(("ranges", "fragment"), [
    ('("203.0.113.7/32",)', "'203.0.113.7/32'; allowed: a prefix up to /30, or a single address written "
                            "without one ('203.0.113.7')"),
    ('("10.1.0.0/16",)', "'10.1.0.0/16'; allowed: public addresses (the storage firewall rejects RFC 1918"),
])
def test_state_firewall_ranges_azure_refuses_at_apply(environments, ranges, fragment):
    replace_in(environments / "bootstrap.py", '("203.0.113.0/24",)', ranges)
    assert_one_line_error(run_main(environments), "environment 'bootstrap'",
                          f"field 'allowed_ip_ranges' = {fragment}")


def test_a_versions_folder_variable_that_names_nothing_is_reported_as_itself(environments, tmp_path):
    result = run_main(environments, versions=tmp_path / "no-versions")
    assert_one_line_error(result, f"INFRA_VERSIONS_DIR={tmp_path}/no-versions: no such folder; allowed: a folder "
                          "holding catalog.yaml and releases/")


@pytest.mark.parametrize(("variable", "fragment"), [
    ("INFRA_ENVIRONMENTS_DIR", "environments folder not found; allowed: a folder of environment modules"),
    ("INFRA_PLATFORM_CONFIG", "file not found (company configuration is required; unset INFRA_PLATFORM_CONFIG"),
])
def test_a_path_variable_that_names_nothing_is_named(environments, tmp_path, variable, fragment):
    env = entry_environment(environments, outdir=tmp_path / "cdktf.out", variables={variable: str(tmp_path / "x")})
    result = run_probe(INFRA, "environments", root=tmp_path, env=env)
    assert_one_line_error(result, f"{variable}={tmp_path}/x: {fragment}")
