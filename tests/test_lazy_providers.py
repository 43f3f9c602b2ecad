"""Deferred provider submodule imports (``infra.lazy_providers``): what loads, how jsii finds types, the eager
switch, and that both modes synthesize byte-identical JSON. Each probe runs in a fresh interpreter, because
what a process has imported is exactly what is under test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from infra import lazy_providers
from tests.conftest import REPO_ROOT

AZURERM = "cdktf_cdktf_provider_azurerm"


# Appended to every probe: once the probe has printed what it saw, end the process without the interpreter's
# teardown, which takes seconds after a probe imported every provider submodule and checks nothing.
QUICK_EXIT = "\nimport os as _os, sys as _sys\n_sys.stdout.flush()\n_sys.stderr.flush()\n_os._exit(0)\n"


def probe(code: str, **variables: str) -> dict:
    """Run ``code`` after ``runtime.prepare()`` in a fresh interpreter; it prints one JSON object last."""
    env = {**os.environ, **variables}
    env.setdefault(lazy_providers.EAGER_VARIABLE, "0")
    script = "from infra import runtime\nruntime.prepare()\n" + textwrap.dedent(code) + QUICK_EXIT
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


LOADED = f"sorted(m.split('.')[1] for m in sys.modules if m.startswith('{AZURERM}.') and m.count('.') == 1)"


def test_the_package_loads_only_the_submodules_that_are_used():
    seen = probe(f"""
        import json, sys
        import {AZURERM} as azurerm
        before = {LOADED}
        from {AZURERM}.subnet import Subnet
        from {AZURERM} import dns_zone
        via_attribute = azurerm.resource_group.ResourceGroup.__module__
        listed = dir(azurerm)
        try:
            azurerm.no_such_resource
            missing = "no error"
        except AttributeError as error:
            missing = str(error)
        from infra import lazy_providers
        print(json.dumps({{"before": before, "after": {LOADED}, "via_attribute": via_attribute,
                          "listed": listed, "missing": missing, "all": list(azurerm.__all__),
                          "deferred": len(lazy_providers.deferred_packages()["{AZURERM}"])}}))
    """)
    assert seen["deferred"] > 1400  # every `from . import` of the package was deferred ...
    assert set(seen["before"]) <= {"_jsii", "_private"}  # ... and none of them ran on import
    assert set(seen["after"]) - {"_jsii", "_private"} == {"subnet", "dns_zone", "resource_group"}
    assert seen["via_attribute"] == f"{AZURERM}.resource_group"
    assert {"kubernetes_cluster", "subnet", "provider"} <= set(seen["listed"])
    assert set(seen["all"]) - {"__jsii_assembly__"} <= set(seen["listed"])
    assert seen["missing"] == f"module {AZURERM!r} has no attribute 'no_such_resource'"


def test_a_type_the_kernel_returns_loads_its_submodule():
    """The jsii runtime resolves an object reference of a type whose submodule is not loaded yet."""
    seen = probe(f"""
        import json, sys, jsii
        from jsii import _reference_map
        from jsii._kernel.types import ObjRef
        import {AZURERM}
        from infra import lazy_providers
        before = "{AZURERM}.redis_cache" in sys.modules
        ref = ObjRef(ref="@cdktf/provider-azurerm.redisCache.RedisCache@10000")
        value = _reference_map._refs.resolve(jsii.kernel, ref)
        print(json.dumps({{"before": before, "type": type(value).__module__ + "." + type(value).__name__,
                          "fallbacks": lazy_providers.fallback_loads, "loaded": len({LOADED})}}))
    """)
    assert seen["before"] is False
    assert seen["type"] == f"{AZURERM}.redis_cache.RedisCache"
    assert seen["fallbacks"] == []  # found through the FQN map, not by loading everything
    assert seen["loaded"] < 10


@pytest.fixture(scope="module")
def whole_packages() -> dict:
    """One fresh interpreter for both checks that need every provider submodule loaded (each load of the whole
    azurerm package costs seconds), in an order that keeps each check what it is:

    1. ``fallback``: with one entry taken out of the FQN map, resolving a type of that submodule loads the
       whole package (the fallback), recorded before anything else has loaded azurerm's submodules;
    2. ``every_type``: the entry put back, every package's remaining submodules loaded with ``load_all``, and
       every registered provider type checked against the FQN map; ``new_fallbacks`` are the fallback loads
       after step 1 (none may happen)."""
    return probe(f"""
        import json, sys, jsii
        import cdktf_cdktf_provider_azurerm, cdktf_cdktf_provider_helm, cdktf_cdktf_provider_kubernetes
        import cdktf_cdktf_provider_random, cdktf_cdktf_provider_time
        from jsii import _reference_map
        from jsii._kernel.types import ObjRef
        from infra import lazy_providers
        key = "@cdktf/provider-azurerm.redisCache"
        before = {LOADED}
        taken = _reference_map._submodule_fqn_map.pop(key)
        ref = ObjRef(ref="@cdktf/provider-azurerm.redisCache.RedisCache@10000")
        value = _reference_map._refs.resolve(jsii.kernel, ref)
        fallback = {{"before": before, "type": type(value).__name__,
                    "fallbacks": list(lazy_providers.fallback_loads), "loaded": len({LOADED})}}
        _reference_map._submodule_fqn_map[key] = taken
        for package in lazy_providers.deferred_packages():
            lazy_providers.load_all(package)
        def module_of(fqn):
            parts = fqn.split(".")
            for depth in range(len(parts) - 1, 1, -1):
                if ".".join(parts[:depth]) in _reference_map._submodule_fqn_map:
                    return _reference_map._submodule_fqn_map[".".join(parts[:depth])]
            return None
        assemblies = set(lazy_providers._ASSEMBLIES)
        checked, wrong = 0, []
        for table in (_reference_map._types, _reference_map._data_types, _reference_map._enums,
                      _reference_map._interfaces):
            for fqn, cls in table.items():
                if fqn.split(".")[0] in assemblies:
                    checked += 1
                    if module_of(fqn) != cls.__module__:
                        wrong.append([fqn, module_of(fqn), cls.__module__])
        every_type = {{"checked": checked, "wrong": wrong[:20], "assemblies": sorted(assemblies),
                      "new_fallbacks": lazy_providers.fallback_loads[len(fallback["fallbacks"]):]}}
        print(json.dumps({{"fallback": fallback, "every_type": every_type}}))
    """)


def test_a_type_missing_from_the_fqn_map_loads_the_whole_package(whole_packages):
    seen = whole_packages["fallback"]
    assert set(seen["before"]) <= {"_jsii", "_private"}  # no azurerm submodule was loaded before the fallback
    assert seen["type"] == "RedisCache"
    assert seen["fallbacks"] == ["@cdktf/provider-azurerm.redisCache.RedisCache"]
    assert seen["loaded"] > 1400


def test_every_provider_type_maps_to_the_submodule_that_defines_it(whole_packages):
    """The FQN map (a snake_case -> camelCase rule) checked against all ~25,000 registered provider types."""
    seen = whole_packages["every_type"]
    assert seen["assemblies"] == ["@cdktf/provider-azurerm", "@cdktf/provider-helm",
                                  "@cdktf/provider-kubernetes", "@cdktf/provider-random",
                                  "@cdktf/provider-time"]
    assert seen["checked"] > 20000
    assert seen["wrong"] == []
    assert seen["new_fallbacks"] == []


def test_eager_switch_keeps_the_stock_imports():
    seen = probe("""
        import json, sys
        from infra import lazy_providers
        print(json.dumps({"active": lazy_providers.active(),
                          "finders": [type(f).__name__ for f in sys.meta_path]}))
    """, INFRA_EAGER_IMPORTS="1")
    assert seen == {"active": False, "finders": [f for f in seen["finders"] if f != "_Finder"]}
    assert probe("""
        import json
        from infra import lazy_providers
        print(json.dumps(lazy_providers.active()))
    """) is True


@pytest.mark.parametrize(("value", "eager"), [("", False), ("0", False), ("1", True), (" 1 ", True)])
def test_eager_switch_values(monkeypatch, value, eager):
    monkeypatch.setenv(lazy_providers.EAGER_VARIABLE, value)
    assert lazy_providers.eager_requested() is eager


@pytest.mark.parametrize(("python", "jsii"), [
    ("kubernetes_cluster", "kubernetesCluster"),
    ("aadb2_c_directory", "aadb2CDirectory"),
    ("api_service_v1", "apiServiceV1"),
    ("provider", "provider"),
])
def test_jsii_submodule_name(python, jsii):
    assert lazy_providers.jsii_submodule_name(python) == jsii


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def eager_synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """``python main.py`` with INFRA_EAGER_IMPORTS=1: the output folder and how many azurerm submodules loaded."""
    outdir = tmp_path_factory.mktemp("eager") / "cdktf.out"
    env = {**os.environ, "INFRA_OUTDIR": str(outdir), lazy_providers.EAGER_VARIABLE: "1"}
    env.pop("CDKTF_OUTDIR", None)
    code = ("import runpy, sys\nsys.argv = ['main.py']\ntry:\n    runpy.run_path('main.py', run_name='__main__')\n"
            "except SystemExit as stop:\n    assert not stop.code, stop.code\n"
            f"print(len({LOADED}))" + QUICK_EXIT)
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return outdir, int(result.stdout.strip().splitlines()[-1])


def test_eager_and_deferred_imports_synthesize_byte_identical_stacks(eager_synth, synthesized, registry):
    outdir, loaded = eager_synth
    assert loaded > 1400  # the eager run really imported every submodule
    eager, deferred = _tree(outdir), _tree(synthesized.outdir)
    stacks = sorted({name.split("/")[1] for name in eager if name.startswith("stacks/")})
    assert stacks == sorted(registry.stack_names)
    assert sorted(eager) == sorted(deferred)
    different = [name for name in eager if eager[name] != deferred[name]]
    assert different == []


def test_the_cdktf_cli_path_synthesizes_the_same_stacks(synthesized, tmp_path):
    """What `cdktf synth` does: run the "app" command of cdktf.json with CDKTF_OUTDIR set (deferred imports)."""
    app = json.loads((REPO_ROOT / "cdktf.json").read_text())["app"].split()
    assert app[-1] == "main.py"
    outdir = tmp_path / "cli.out"
    env = {**os.environ, "CDKTF_OUTDIR": str(outdir)}
    env.pop(lazy_providers.EAGER_VARIABLE, None)
    result = subprocess.run([sys.executable, *app[1:]], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    cli, deferred = _tree(outdir), _tree(synthesized.outdir)
    assert sorted(cli) == sorted(deferred)
    assert [name for name in cli if cli[name] != deferred[name]] == []


def test_a_package_without_submodule_imports_is_left_as_it_is(tmp_path):
    """A package that has no ``from . import`` lines (say, one generated lazy already) gets no hooks of ours."""
    package = tmp_path / "cdktf_cdktf_provider_example"
    package.mkdir()
    (package / "__init__.py").write_text("def __getattr__(name):\n    return f'own {name}'\n")
    seen = probe(f"""
        import json, sys
        sys.path.insert(0, {str(tmp_path)!r})
        import cdktf_cdktf_provider_example as example
        from infra import lazy_providers
        print(json.dumps({{"value": example.anything, "deferred": lazy_providers.deferred_packages()}}))
    """)
    assert seen == {"value": "own anything", "deferred": {}}
