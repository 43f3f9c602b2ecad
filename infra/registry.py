"""Finds and validates every environment definition in ``environments/``.

Each ``environments/<module>.py`` (not starting with ``_``) defines ``ENVIRONMENT``: one
:class:`~infra.settings.EnvironmentSettings`, or the :class:`~infra.settings.BootstrapSettings` of the state
stack. Rules across environments live here: unique names and short names, non-overlapping address spaces,
known subscriptions, ``release_from`` naming a production environment. Loading imports no provider package,
so a broken definition fails in well under a second.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import ipaddress
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from infra.errors import ConfigError
from infra.platform_config import REPO_ROOT, PlatformConfig, load_platform_config
from infra.settings import ENVIRONMENT_KINDS, LOADING_FILE, BootstrapSettings, EnvironmentSettings

ENVIRONMENTS_DIR = REPO_ROOT / "environments"
# Tests and forks may point the loader at another folder of environment modules.
ENVIRONMENTS_DIR_VARIABLE = "INFRA_ENVIRONMENTS_DIR"


@dataclass(frozen=True)
class Registry:
    """All environments of the platform, validated together."""

    config: PlatformConfig
    bootstrap: BootstrapSettings
    environments: tuple[EnvironmentSettings, ...]

    @property
    def stack_names(self) -> list[str]:
        """Every stack the app synthesizes: bootstrap first, then the environments in file order."""
        return [self.bootstrap.name, *(e.name for e in self.environments)]

    def get(self, name: str) -> EnvironmentSettings:
        for environment in self.environments:
            if environment.name == name:
                return environment
        known = ", ".join(e.name for e in self.environments)
        raise ConfigError(f"unknown environment {name!r}; known: {known}")


def environments_dir() -> Path:
    return Path(os.environ.get(ENVIRONMENTS_DIR_VARIABLE, ENVIRONMENTS_DIR))


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _load_module(path: Path) -> object:
    source = _display(path)
    module_name = f"_infra_environment_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{source}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    token = LOADING_FILE.set(source)
    try:
        spec.loader.exec_module(module)
    except ConfigError:
        raise
    except TypeError as error:
        raise ConfigError(f"{source}: {_describe_type_error(error)}") from None
    except SyntaxError as error:
        raise ConfigError(f"{source}:{error.lineno}: syntax error: {error.msg}") from None
    except Exception as error:  # noqa: BLE001 - any failure in a definition file is bad input, shown on one line
        line = traceback.extract_tb(error.__traceback__)[-1].lineno
        raise ConfigError(f"{source}:{line}: {type(error).__name__}: {error}") from None
    finally:
        LOADING_FILE.reset(token)
    return module


def _describe_type_error(error: TypeError) -> str:
    message = str(error)
    if "unexpected keyword argument" in message or "missing" in message:
        for cls in (EnvironmentSettings, BootstrapSettings):
            if cls.__name__ in message:
                allowed = [f.name for f in dataclasses.fields(cls) if f.init and f.name != "source"]
                return f"{message}; allowed fields: {', '.join(allowed)}"
    return message


def load_registry(directory: Path | None = None, config: PlatformConfig | None = None) -> Registry:
    """Load, validate and cross-check every environment definition."""
    directory = directory or environments_dir()
    config = config or load_platform_config()
    if not directory.is_dir():
        raise ConfigError(f"{directory}: environments folder not found")
    sys.dont_write_bytecode = True  # definition files are data: leave no __pycache__ beside them
    bootstrap: BootstrapSettings | None = None
    environments: list[EnvironmentSettings] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        source = _display(path)
        definition = getattr(_load_module(path), "ENVIRONMENT", None)
        if not isinstance(definition, EnvironmentSettings | BootstrapSettings):
            raise ConfigError(f"{source}: defines no ENVIRONMENT; allowed: ENVIRONMENT = EnvironmentSettings(...) "
                              "(or BootstrapSettings(...) for the state stack)")
        if definition.name in seen:
            raise ConfigError(f"{source}: environment name {definition.name!r} is already defined in "
                              f"{seen[definition.name]}; allowed: one environment per name")
        seen[definition.name] = source
        if isinstance(definition, BootstrapSettings):
            bootstrap = definition
        else:
            environments.append(definition)
    if bootstrap is None:
        raise ConfigError(f"{_display(directory)}: no bootstrap definition; allowed: exactly one module with "
                          "ENVIRONMENT = BootstrapSettings()")
    if not environments:
        raise ConfigError(f"{_display(directory)}: no environments defined")
    _check_across(environments, config)
    # Promotion order (dev, staging, production, enterprise, external), then by name: stable and readable.
    environments.sort(key=lambda e: (ENVIRONMENT_KINDS.index(e.kind), e.name))
    return Registry(config=config, bootstrap=bootstrap, environments=tuple(environments))


def _check_across(environments: list[EnvironmentSettings], config: PlatformConfig) -> None:
    short_names: dict[str, EnvironmentSettings] = {}
    dns_labels: dict[str, EnvironmentSettings] = {}
    # (first address, last address, environment) as integers: every pair is compared, so the comparison must
    # be cheap (ipaddress.overlaps made 500 environments take a third of a second).
    networks: list[tuple[int, int, EnvironmentSettings]] = []
    by_name = {e.name: e for e in environments}
    for env in environments:
        where = f"environment {env.name!r} ({env.source})"
        config.subscription_id(env.subscription, where=where)
        for index, label in ((short_names, env.short_name), (dns_labels, env.dns_label)):
            other = index.get(label)
            if other is not None:
                attribute = "short_name" if index is short_names else "dns_label"
                raise ConfigError(f"{where}: field '{attribute}' = {label!r} is already used by environment "
                                  f"{other.name!r} ({other.source}); allowed: a value unique across environments")
            index[label] = env
        if env.address_space is not None:
            network = ipaddress.IPv4Network(env.address_space)
            first, last = int(network.network_address), int(network.broadcast_address)
            for other_first, other_last, other in networks:
                if first <= other_last and other_first <= last:
                    raise ConfigError(f"{where}: field 'address_space' = {env.address_space!r} overlaps "
                                      f"{other.address_space!r} of environment {other.name!r} ({other.source}); "
                                      "allowed: address spaces that do not overlap")
            networks.append((first, last, env))
        if env.release_from is not None:
            target = by_name.get(env.release_from)
            if target is None or target.kind != "production":
                allowed = ", ".join(e.name for e in environments if e.kind == "production") or "none defined"
                raise ConfigError(f"{where}: field 'release_from' = {env.release_from!r}; allowed: a production "
                                  f"environment ({allowed})")
