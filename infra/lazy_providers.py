"""Deferred submodule imports for the prebuilt provider packages: only the resources the app uses are loaded.

Why: ``import cdktf_cdktf_provider_azurerm`` executes ``from . import <name>`` for all ~1,500 of its submodules
before it returns (≈6 s and most of a synth's memory), and the kubernetes package does the same for ~200 more.
The app uses a few dozen of them.

How: a meta-path finder sits in front of the normal one for every top-level package named
``cdktf_cdktf_provider_*``. It loads the package's ``__init__.py`` with those ``from . import <name>``
statements left out (everything else, including the jsii assembly load, runs unchanged), and gives the published
module a PEP 562 ``__getattr__`` / ``__dir__`` that imports a submodule on first use. Explicit imports
(``from cdktf_cdktf_provider_azurerm.subnet import Subnet``) go through the ordinary import system anyway.

Type registration: a Python class registers its jsii type when its submodule is imported. When the jsii kernel
hands back an object of a type whose submodule is not loaded yet, the jsii runtime (1.142+) asks
``_reference_map._try_import_type_module``; this module registers each package's submodule FQNs there, and
wraps that function so that a type it still cannot find makes the whole package load (the stock behaviour) —
a wrong guess costs time, never correctness.

Switch: ``INFRA_EAGER_IMPORTS=1`` keeps the stock eager imports (``0`` or unset: deferred). A jsii runtime
without the hooks above also keeps the stock behaviour.
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from infra.errors import ConfigError

EAGER_VARIABLE = "INFRA_EAGER_IMPORTS"
PACKAGE_PREFIX = "cdktf_cdktf_provider_"

# package name -> its deferred submodule names; filled as the packages load.
_DEFERRED: dict[str, tuple[str, ...]] = {}
# jsii assembly name ("@cdktf/provider-azurerm") -> package name, for the type-resolution fallback.
_ASSEMBLIES: dict[str, str] = {}
_FINDER: _Finder | None = None
# How often a type lookup missed the FQN map and loaded a whole package (tests and the benchmark read it).
fallback_loads: list[str] = []


def eager_requested() -> bool:
    """True when ``INFRA_EAGER_IMPORTS`` asks for the stock eager imports; a value other than 0/1 is bad input."""
    value = os.environ.get(EAGER_VARIABLE, "").strip()
    if value not in ("", "0", "1"):
        raise ConfigError(f"{EAGER_VARIABLE}={value!r}: allowed are 1 (stock eager provider imports) "
                          "or 0 / unset (deferred submodule imports, the default)")
    return value == "1"


def install() -> bool:
    """Defer provider submodule imports from now on, unless eager imports are requested or the jsii runtime lacks
    the type-resolution hooks. Idempotent. Returns whether deferred imports are active.

    A provider package imported before this call stays fully loaded (it is already in ``sys.modules``).
    """
    global _FINDER
    if eager_requested():
        return False
    if _FINDER is not None:
        return True
    from jsii import _reference_map

    if not (callable(getattr(_reference_map, "_try_import_type_module", None))
            and isinstance(getattr(_reference_map, "_submodule_fqn_map", None), dict)):
        return False
    _reference_map._try_import_type_module = _resolving_whole_package(_reference_map._try_import_type_module)
    _FINDER = _Finder()
    sys.meta_path.insert(0, _FINDER)
    return True


def active() -> bool:
    """Whether :func:`install` put the deferring finder in place."""
    return _FINDER is not None and _FINDER in sys.meta_path


def deferred_packages() -> dict[str, tuple[str, ...]]:
    """Every provider package loaded with deferred submodules, and those submodules' names."""
    return dict(_DEFERRED)


def jsii_submodule_name(python_name: str) -> str:
    """The jsii submodule name that jsii-pacmak snake-cased into ``python_name``:
    ``kubernetes_cluster`` -> ``kubernetesCluster``, ``aadb2_c_directory`` -> ``aadb2CDirectory``."""
    head, *rest = python_name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def load_all(package: str) -> None:
    """Import every deferred submodule of ``package``: the stock state, for code that needs all types."""
    for name in _DEFERRED.get(package, ()):
        importlib.import_module(f"{package}.{name}")


class _Finder(importlib.abc.MetaPathFinder):
    """Hands the provider packages' ``__init__.py`` to :class:`_DeferringLoader`; everything else passes by."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None):
        if "." in fullname or not fullname.startswith(PACKAGE_PREFIX):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return spec
        if not spec.submodule_search_locations:
            return spec
        spec.loader = _DeferringLoader(fullname, spec.origin)
        return spec


class _DeferringLoader(importlib.machinery.SourceFileLoader):
    """Runs a provider package's ``__init__.py`` without its top-level ``from . import <submodule>`` lines."""

    def get_code(self, fullname: str):
        tree = ast.parse(self.get_source(fullname), self.path)
        kept, deferred = [], []
        for node in tree.body:
            if (isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None
                    and all(alias.asname is None and alias.name != "*" for alias in node.names)):
                deferred.extend(alias.name for alias in node.names)
            else:
                kept.append(node)
        tree.body = kept
        self._deferred = tuple(deferred)
        return compile(tree, self.path, "exec", dont_inherit=True)

    def exec_module(self, module: ModuleType) -> None:
        super().exec_module(module)
        name = module.__name__
        deferred = getattr(self, "_deferred", ())
        if not deferred:  # nothing was left out (e.g. a package that is lazy on its own): leave it as it is
            return
        _DEFERRED[name] = deferred
        # publication.publish() in the package swapped sys.modules[name] for a module of the names in
        # __all__; the hooks go on that published module (the one importers get).
        published = sys.modules.get(name, module)
        _add_module_hooks(published, name, frozenset(deferred))
        _register_fqns(module, name, deferred)


def _add_module_hooks(published: ModuleType, name: str, deferred: frozenset[str]) -> None:
    def __getattr__(attribute: str) -> Any:
        if attribute in deferred:
            return importlib.import_module(f"{name}.{attribute}")
        raise AttributeError(f"module {name!r} has no attribute {attribute!r}")

    def __dir__() -> list[str]:
        return sorted(set(published.__dict__) | deferred)

    published.__getattr__ = __getattr__  # type: ignore[method-assign]
    published.__dir__ = __dir__  # type: ignore[method-assign]


def _register_fqns(module: ModuleType, name: str, deferred: Sequence[str]) -> None:
    """Tell the jsii runtime which Python submodule holds each jsii submodule of this package's assembly."""
    from jsii import _reference_map

    assembly = getattr(module, "__jsii_assembly__", None)
    if assembly is None:
        return
    _ASSEMBLIES[assembly.name] = name
    _reference_map._submodule_fqn_map.update(
        {f"{assembly.name}.{jsii_submodule_name(sub)}": f"{name}.{sub}" for sub in deferred})


def _registered(fqn: str) -> bool:
    from jsii import _reference_map

    return any(fqn in table for table in (_reference_map._types, _reference_map._data_types,
                                          _reference_map._enums, _reference_map._interfaces))


def _resolving_whole_package(original):
    """Wrap jsii's type-module lookup: when it cannot find a type of a deferred package, load that package whole."""

    def _try_import_type_module(class_fqn: str) -> bool:
        imported = original(class_fqn)
        if _registered(class_fqn):
            return imported
        package = _ASSEMBLIES.get(class_fqn.split(".", 1)[0])
        if package is None:
            return imported
        fallback_loads.append(class_fqn)
        load_all(package)
        return True

    _try_import_type_module.__wrapped__ = original  # type: ignore[attr-defined]
    return _try_import_type_module
