"""Stack selection (infra/app.py: ``INFRA_STACKS``, ``make synth ENV=<env>``, ``make diff/deploy ENV=<env>``).

GIVEN the registry, WHEN stacks are selected, THEN only those stacks are constructed and written, each byte for
byte what the full synth writes for it (checked for every stack), every environment definition and release file
is still loaded and cross-checked, and an unknown name is one line listing the allowed ones, before any provider
package is imported.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from infra.app import STACKS_VARIABLE, select_stacks
from infra.errors import ConfigError
from tests.conftest import REPO_ROOT, stack_names
from tests.test_bad_input import (  # noqa: F401  (fixtures)
    assert_one_line_error,
    environments,
    replace_in,
    run_main,
    versions,
)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_only_these_stacks_identical_to_the_full_synth(outdir: Path, names: list[str], synthesized) -> None:
    assert sorted(p.name for p in (outdir / "stacks").iterdir()) == sorted(names)
    assert sorted(json.loads((outdir / "manifest.json").read_text())["stacks"]) == sorted(names)
    for name in names:
        selected, full = _files(outdir / "stacks" / name), _files(synthesized.outdir / "stacks" / name)
        assert sorted(selected) == sorted(full), name
        assert [file for file in selected if selected[file] != full[file]] == [], name


def _environment(**variables: str) -> dict[str, str]:
    """This process's environment plus ``variables``, without a selection, a CLI output folder or the make
    variables of an enclosing `make test` (a nested make would number its messages make[1])."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("MAKE", "MFLAGS"))}
    env.update(variables)
    for name in ("CDKTF_OUTDIR", STACKS_VARIABLE):
        if name not in variables:
            env.pop(name, None)
    return env


# --- what is selected --------------------------------------------------------------------------------------

def test_nothing_selected_means_every_stack(registry, monkeypatch):
    monkeypatch.delenv(STACKS_VARIABLE, raising=False)
    assert select_stacks(registry) == registry.stack_names
    assert select_stacks(registry, "") == select_stacks(registry, " , ") == select_stacks(registry, []) \
        == registry.stack_names


@pytest.mark.parametrize(("text", "expected"), [
    ("dev", ["dev"]),
    ("onprem,dev", ["dev", "onprem"]),          # the registry's order, whatever the order asked
    (" staging  bootstrap ", ["bootstrap", "staging"]),
    ("dev, dev", ["dev"]),
])
def test_names_are_separated_by_commas_or_spaces_and_kept_in_registry_order(registry, text, expected):
    assert select_stacks(registry, text) == expected


def test_the_variable_is_the_default(registry, monkeypatch):
    monkeypatch.setenv(STACKS_VARIABLE, "onprem")
    assert select_stacks(registry) == ["onprem"]


def test_an_unknown_name_lists_every_allowed_stack(registry, monkeypatch):
    monkeypatch.setenv(STACKS_VARIABLE, "dev,qa")
    with pytest.raises(ConfigError) as error:
        select_stacks(registry)
    assert str(error.value) == (f"INFRA_STACKS='dev,qa' (make ENV=<env>): unknown stack 'qa'; allowed: "
                                f"{', '.join(registry.stack_names)} (one or more, separated by commas or spaces; "
                                "empty = every stack)")


# --- byte-identical to the full synth, for every stack ------------------------------------------------------

@pytest.mark.parametrize("stack", stack_names())
def test_a_selected_stack_is_byte_identical_to_the_same_stack_of_the_full_synth(stack, registry, synthesized,
                                                                                 tmp_path):
    """Also what keeps the selection honest about anything cross-stack: a stack whose content depended on
    another one (the bootstrap's list of state containers, a cross-stack reference) would differ here."""
    from infra.app import build_app

    build_app(registry, outdir=str(tmp_path / "out"), stacks=[stack]).synth()
    assert_only_these_stacks_identical_to_the_full_synth(tmp_path / "out", [stack], synthesized)


# --- the entry points -----------------------------------------------------------------------------------------

def _recording_python(tmp_path: Path) -> tuple[Path, Path]:
    """A stand-in for the venv's Python that records its arguments and INFRA_STACKS, for the Makefile tests."""
    record, fake = tmp_path / "record.json", tmp_path / "python"
    fake.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                    f"json.dump({{'argv': sys.argv[1:], 'stacks': os.environ.get('INFRA_STACKS'), "
                    f"'enhanced_validation': os.environ.get('ARM_PROVIDER_ENHANCED_VALIDATION')}}, "
                    f"open({str(record)!r}, 'w'))\n")
    fake.chmod(0o755)
    return fake, record


@pytest.mark.parametrize(("arguments", "expected"), [
    (["ENV=onprem"], "onprem"),
    (["ENV=dev,staging"], "dev,staging"),
    ([], None),  # no ENV: the variable is left as it is (unset here): every stack
])
def test_make_synth_passes_env_to_main_py_as_the_selection(tmp_path, arguments, expected):
    fake, record = _recording_python(tmp_path)
    result = subprocess.run(["make", "--no-print-directory", "-o", ".venv/.installed", "synth", f"PY={fake}",
                             *arguments], cwd=REPO_ROOT, env=_environment(), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(record.read_text()) == {"argv": ["main.py"], "stacks": expected, "enhanced_validation": None}


def test_main_with_a_selection_writes_only_that_stack(synthesized, tmp_path, monkeypatch, capsys):
    """What `make synth ENV=onprem` runs (main.py's main, in this process): the folder holds onprem only."""
    from infra.app import main

    outdir = tmp_path / "cdktf.out"
    (outdir / "stacks" / "dev").mkdir(parents=True)  # a previous full synth's leftovers are replaced
    monkeypatch.setenv("INFRA_OUTDIR", str(outdir))
    monkeypatch.setenv(STACKS_VARIABLE, "onprem")
    monkeypatch.delenv("CDKTF_OUTDIR", raising=False)
    assert main([]) == 0
    assert capsys.readouterr().out.strip() == f"synthesized 1 stack into {outdir}/stacks/: onprem"
    assert_only_these_stacks_identical_to_the_full_synth(outdir, ["onprem"], synthesized)


def test_under_the_cdktf_cli_the_selection_is_what_the_app_builds(registry, tmp_path, monkeypatch):
    """Under `cdktf synth/diff/deploy` (CDKTF_OUTDIR set) the App writes where the CLI says and builds only the
    selected stacks. Where it writes is the full CLI-path test's (tests/test_lazy_providers.py, a fresh process:
    the jsii kernel reads CDKTF_OUTDIR when it starts); which stacks it builds is this one's."""
    import infra.app

    built = []

    class App:
        def synth(self) -> None:
            built.append("synth")

    def recording(registry, **options):
        built.append((options.get("outdir"), list(options["stacks"])))
        return App()

    monkeypatch.setattr(infra.app, "build_app", recording)
    monkeypatch.setenv("CDKTF_OUTDIR", str(tmp_path / "cli.out"))
    monkeypatch.setenv(STACKS_VARIABLE, "dev,bootstrap")
    assert infra.app.synth() == ["bootstrap", "dev"]
    assert built == [(None, ["bootstrap", "dev"]), "synth"]  # no outdir of ours: the CLI's CDKTF_OUTDIR
    assert not (tmp_path / "cli.out").exists()


PROVIDER_PROBE = textwrap.dedent("""
    import json, runpy, sys
    sys.argv = ["main.py"]
    try:
        runpy.run_path("main.py", run_name="__main__")
        code = 0
    except SystemExit as stop:
        code = stop.code
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("cdktf", "jsii", "constructs")
                    or m.startswith("cdktf_cdktf_provider_"))
    print(json.dumps({"code": code, "loaded": loaded}))
""")


def test_an_unknown_stack_is_one_line_before_any_provider_import(registry, tmp_path):
    outdir = tmp_path / "cdktf.out"
    result = subprocess.run([sys.executable, "-c", PROVIDER_PROBE], cwd=REPO_ROOT, capture_output=True, text=True,
                            env=_environment(INFRA_OUTDIR=str(outdir), INFRA_STACKS="qa"), timeout=120)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"code": 2, "loaded": []}
    assert_one_line_error(subprocess.CompletedProcess(result.args, 2, "", result.stderr),
                          "INFRA_STACKS='qa'", "unknown stack 'qa'", f"allowed: {', '.join(registry.stack_names)}")
    assert not outdir.exists() and list(tmp_path.iterdir()) == []


def test_make_synth_with_an_unknown_env_is_one_line_of_ours(registry, tmp_path):
    result = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "synth", "ENV=qa", f"PY={sys.executable}"],
        cwd=REPO_ROOT, env=_environment(INFRA_OUTDIR=str(tmp_path / "out")), capture_output=True, text=True,
        timeout=120)
    assert result.returncode != 0
    ours = [line for line in result.stderr.strip().splitlines() if not line.startswith("make: ***")]
    assert ours == [f"error: INFRA_STACKS='qa' (make ENV=<env>): unknown stack 'qa'; allowed: "
                    f"{', '.join(registry.stack_names)} (one or more, separated by commas or spaces; "
                    "empty = every stack)"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("target", ["deploy", "diff"])
def test_make_deploy_and_diff_select_the_stack_they_run(tmp_path, target):
    """The cdktf CLI runs the app for every stack unless INFRA_STACKS says otherwise: the Makefile sets it.
    The preflight passes with stand-ins for a logged-in `az` and Terraform 1.11.4; install stamps newer than
    everything stand in for the venv and node_modules; a stand-in for the CLI records its command line and the
    variable it was given."""
    from tests.test_bad_input_classes import fake_tools

    fake, record = _recording_python(tmp_path)
    stamps = {name: tmp_path / f"{name}.stamp" for name in ("PY_STAMP", "NODE_STAMP")}
    for stamp in stamps.values():
        stamp.touch()
    result = subprocess.run(
        ["make", "--no-print-directory", target, "ENV=staging", f"CDKTF={fake}", f"PY={sys.executable}",
         *(f"{name}={stamp}" for name, stamp in stamps.items())],
        cwd=REPO_ROOT, env={**_environment(), "PATH": fake_tools(tmp_path / "bin")}, capture_output=True,
        text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    # and, like the pipelines' Terraform step, without azurerm's enhanced validation (the parent zone's provider
    # would list that subscription's resource providers: docs/security.md, "Roles per identity")
    assert json.loads(record.read_text()) == {"argv": [target, "staging"], "stacks": "staging",
                                              "enhanced_validation": "false"}


# --- cross-environment checks still cover every definition ----------------------------------------------------

def test_a_selection_still_checks_every_definition(environments, tmp_path):  # noqa: F811
    """dev alone is asked for; staging's address space overlapping dev's still stops the synth (one line, no
    provider import, nothing written: assert_one_line_error)."""
    replace_in(environments / "staging.py", "10.20.0.0/16", "10.10.128.0/20")
    result = run_main(environments, variables={STACKS_VARIABLE: "dev"})
    assert_one_line_error(result, "environment 'staging'", "'10.10.128.0/20' overlaps '10.10.0.0/16'")


def _float(release: Path, component: str) -> None:
    """Replace ``component``'s pin in ``release`` (the short ``name: version`` form) with ``latest``."""
    text = release.read_text()
    floating = re.sub(rf"(?m)^  {re.escape(component)}: \S+$", f"  {component}: latest", text)
    assert floating != text, f"{component} has no short pin in {release}"
    release.write_text(floating)


@pytest.mark.parametrize(("break_", "fragments"), [
    (lambda v: _float(v / "releases" / "staging.yaml", "ingress-nginx"), ("staging.yaml", "ingress-nginx", "latest")),
    (lambda v: (v / "releases" / "production-neu.yaml").unlink(),
     ("environment 'production-neu' has no release file",)),
], ids=["floating-version-in-staging", "no-release-file-for-production-neu"])
def test_a_selection_still_checks_every_release_file(environments, versions, tmp_path, break_,  # noqa: F811
                                                     fragments):
    break_(versions)
    result = run_main(environments, versions=versions, variables={STACKS_VARIABLE: "dev"})
    assert_one_line_error(result, *fragments)


def test_recovery_builds_only_the_stack_it_recovers(monkeypatch):
    import infra.app
    from infra.recovery.state_recovery import build_plan

    asked: list[list[str]] = []
    build = infra.app.build_app

    def recording(registry, **options):
        asked.append(list(options.get("stacks") or []))
        return build(registry, **options)

    monkeypatch.setattr(infra.app, "build_app", recording)
    plan = build_plan("staging")
    assert asked == [["staging"]]
    assert plan.environment == "staging" and plan.secrets
