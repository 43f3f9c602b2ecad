"""What makes the early refusal possible, checked in-process: the registry checks every Azure name the stacks
will ask for, the modules on the error path import no provider package, and the top-level catch of main() turns
whatever still escapes into one line."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from building_blocks import naming
from infra import app, errors, preflight
from infra.errors import ConfigError
from infra.registry import NAMED_RESOURCES, _check_names
from tests.conftest import REPO_ROOT
from tests.test_bad_input import PROVIDER_PACKAGES, PROVIDER_PREFIX


def test_the_registry_checks_every_name_the_stacks_ask_for(registry, monkeypatch, tmp_path):
    asked: set[tuple[str, str | None]] = set()
    name = naming.Namer.name

    def recording(self, kind, instance=None):
        asked.add((kind, instance))
        return name(self, kind, instance)

    monkeypatch.setattr(naming.Namer, "name", recording)
    app.build_app(registry, outdir=str(tmp_path))  # the stacks only: names are asked for while they are built
    assert ("key_vault", None) in asked and ("subnet", "nodes") in asked
    missing = asked - set(NAMED_RESOURCES)
    assert not missing, f"infra/registry.py NAMED_RESOURCES misses {sorted(missing, key=str)}"


def test_a_name_that_breaks_its_rule_is_refused_by_the_registry_naming_the_fields(registry):
    # The configuration's own checks keep the workload at 2-6 characters; past them, the key vault name
    # (at most 24 characters) is the first to break.
    config = dataclasses.replace(registry.config, workload="northwindtraders")
    with pytest.raises(ConfigError) as refused:
        _check_names(registry.get("production-weu"), config)
    message = str(refused.value)
    assert message.startswith("environment 'production-weu' (environments/production_weu.py): fields "
                              "'short_name' = 'prdweu', 'location' = 'westeurope' with [company] workload "
                              "'northwindtraders': ")
    assert "breaks the Azure rule" in message


def test_the_error_path_imports_no_provider_package():
    # naming (its rules are checked while the registry loads), the registry, settings, config, versions,
    # the preflight of make deploy, and the entry points' modules themselves.
    code = (
        "import sys\n"
        "import building_blocks.naming, infra.registry, infra.versions, infra.preflight, infra.app, infra.cli\n"
        "import infra.versions.ops, infra.versions.history\n"
        "infra.registry.load_registry(); infra.versions.load_releases(infra.registry.load_registry())\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {PROVIDER_PACKAGES!r} "
        f"or m.startswith({PROVIDER_PREFIX!r})))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_preflight_imports_only_the_standard_library_and_the_registry():
    code = ("import sys\nimport infra.preflight\ninfra.preflight.check_environment('deploy', 'dev')\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ruamel', 'cdktf', 'jsii', 'constructs')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(("version", "ok"), [("1.11.0", True), ("1.11.4", True), ("1.14.0", True),
                                             ("1.10.9", False), ("1.5.7", False), ("2.0.0", False)])
def test_terraform_version_against_the_stacks_required_version(version, ok):
    assert preflight.satisfies(version) is ok


def test_main_turns_an_unexpected_error_into_one_line(monkeypatch, capsys):
    def broken(outdir=None):
        raise RuntimeError("kernel said no\n    at Kernel._create (x.js:1)\n")

    monkeypatch.setattr(app, "synth", broken)
    monkeypatch.delenv(errors.DEBUG_VARIABLE, raising=False)
    assert app.main([]) == 1
    assert capsys.readouterr().err == ("error: RuntimeError: kernel said no (INFRA_DEBUG=1 shows the "
                                       "traceback)\n")


def test_main_re_raises_with_infra_debug(monkeypatch):
    def broken(outdir=None):
        raise RuntimeError("kernel said no")

    monkeypatch.setattr(app, "synth", broken)
    monkeypatch.setenv(errors.DEBUG_VARIABLE, "1")
    with pytest.raises(RuntimeError, match="kernel said no"):
        app.main([])


def test_a_construct_failure_names_the_environment_and_its_file():
    with pytest.raises(ConfigError) as refused, errors.building_stack("dev", "environments/dev.py"):
        raise TypeError("unsupported operand type(s) for +: 'int' and 'str'\nmore")
    assert str(refused.value) == ("environment 'dev' (environments/dev.py): refused while building its stack: "
                                  "TypeError: unsupported operand type(s) for +: 'int' and 'str' (INFRA_DEBUG=1 "
                                  "shows the traceback)")
