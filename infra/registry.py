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

from building_blocks.kubernetes.integration_specs import IntegrationSpec
from building_blocks.naming import Namer, NamingError, dns_zone_name
from infra.errors import ConfigError
from infra.platform_config import REPO_ROOT, PlatformConfig, load_platform_config
from infra.settings import (
    ENVIRONMENT_KINDS,
    LOADING_FILE,
    BootstrapSettings,
    EnvironmentSettings,
    NodePoolSettings,
)
from infra.state import STATE_ENVIRONMENT, state_account

ENVIRONMENTS_DIR = REPO_ROOT / "environments"
# Every (kind, instance) an environment stack names through its Namer (infra/stacks.py and the building blocks
# it composes), so that a name that breaks its Azure rule is refused here, before the provider import, not
# while the stack is built. tests/test_bad_input_names.py records the names a real synthesis asks for and
# fails when this list misses one.
NAMED_RESOURCES: tuple[tuple[str, str | None], ...] = (
    ("resource_group", None),
    ("resource_group", "dns"),
    ("log_analytics_workspace", None),
    ("data_collection_rule", "aks"),
    ("key_vault", None),
    ("diagnostic_setting", "kv"),
    ("diagnostic_setting", "aks"),
    ("private_endpoint", "kv"),
    ("private_endpoint", "acr"),
    ("private_dns_zone_link", "kv"),
    ("private_dns_zone_link", "acr"),
    ("private_dns_zone_link", "psql"),
    ("virtual_network", None),
    ("subnet", "nodes"),
    ("subnet", "postgres"),
    ("subnet", "endpoints"),
    ("network_security_group", "nodes"),
    ("network_security_group", "postgres"),
    ("network_security_group", "endpoints"),
    ("container_registry", None),
    ("kubernetes_cluster", None),
    ("aks_dns_prefix", None),
    ("node_resource_group", "aks"),
    ("user_assigned_identity", "aks"),
    ("user_assigned_identity", "externaldns"),
    ("postgresql_server", None),
)
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
    except SyntaxError as error:
        raise ConfigError(f"{source}:{error.lineno}: syntax error: {error.msg}") from None
    except Exception as error:  # noqa: BLE001 - any failure in a definition file is bad input, shown on one line
        # The line of the definition file that made the call, not the line of the library that refused it.
        at = _line_in(error, path)
        if isinstance(error, TypeError):
            message = _describe_type_error(error)
        elif isinstance(error, ValueError):  # integration specs and naming say field, value and what is allowed
            message = str(error)
        else:
            message = f"{type(error).__name__}: {error}"
        raise ConfigError(f"{source}{at}: {' '.join(message.split())}") from None
    finally:
        LOADING_FILE.reset(token)
    return module


def _line_in(error: BaseException, path: Path) -> str:
    """``:<line>`` of the last frame of ``error``'s traceback that runs in ``path`` ("" when none does)."""
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
             if Path(frame.filename).resolve() == path.resolve()]
    return f":{lines[-1]}" if lines else ""


def _definition_classes() -> list[type]:
    """The dataclasses an environment module builds: the settings and every integration spec."""
    specs: list[type] = []
    pending: list[type] = [IntegrationSpec]
    while pending:
        cls = pending.pop()
        specs.append(cls)
        pending.extend(cls.__subclasses__())
    return [EnvironmentSettings, BootstrapSettings, NodePoolSettings, *specs]


def _describe_type_error(error: TypeError) -> str:
    message = str(error)
    if "unexpected keyword argument" in message or "missing" in message or "positional argument" in message:
        for cls in _definition_classes():
            if f"{cls.__name__}.__init__()" in message or message.startswith(f"{cls.__name__}("):
                allowed = [f.name for f in dataclasses.fields(cls) if f.init and f.name != "source"]
                keyword = " (keyword arguments only: name=value)" if "positional argument" in message else ""
                return f"{message}; allowed fields{keyword}: {', '.join(allowed)}"
    return message


def load_registry(directory: Path | None = None, config: PlatformConfig | None = None) -> Registry:
    """Load, validate and cross-check every environment definition."""
    directory = directory or environments_dir()
    config = config or load_platform_config()
    if not directory.is_dir():
        named = f"{ENVIRONMENTS_DIR_VARIABLE}={directory}" if os.environ.get(ENVIRONMENTS_DIR_VARIABLE) else directory
        raise ConfigError(f"{named}: environments folder not found; allowed: a folder of environment modules "
                          f"(unset {ENVIRONMENTS_DIR_VARIABLE} for {_display(ENVIRONMENTS_DIR)}/)")
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
    _check_state_names(config)
    for env in environments:
        _check_names(env, config)
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


def _check_names(env: EnvironmentSettings, config: PlatformConfig) -> None:
    """Every Azure name the environment's stack will ask for, checked against its rule now (cheap, no provider
    import); the message names the environment and the fields the names are made of."""
    where = f"environment {env.name!r} ({env.source})"
    label = str(env.dns_label)
    try:
        dns_zone_name(label, config.domain)
    except NamingError as error:
        raise ConfigError(f"{where}: field 'dns_label' = {label!r} with [company] domain {config.domain!r}: "
                          f"{error}") from None
    namer = Namer(workload=config.workload, environment=str(env.short_name), region=env.location,
                  unique_seed=config.subscription_id(env.subscription, where=where))
    for kind, instance in NAMED_RESOURCES:
        try:
            namer.name(kind, instance)
        except NamingError as error:
            raise ConfigError(f"{where}: fields 'short_name' = {env.short_name!r}, 'location' = {env.location!r} "
                              f"with [company] workload {config.workload!r}: {error}") from None


def _check_state_names(config: PlatformConfig) -> None:
    """The bootstrap stack's names (state account, its resource group and access log), made of [company]
    workload and [state] location only."""
    try:
        state_account(config)
        for kind in ("log_analytics_workspace", "diagnostic_setting"):
            Namer(workload=config.workload, environment=STATE_ENVIRONMENT, region=config.state_location,
                  unique_seed="").name(kind, "tfstate")
    except NamingError as error:
        raise ConfigError(f"{config.source} [company] workload {config.workload!r}, [state] location "
                          f"{config.state_location!r}: {error}") from None
