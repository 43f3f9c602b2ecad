"""Company-wide configuration (``config/platform.toml``): tenant, subscriptions, domain, tag owners."""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from building_blocks.naming import REGION_CODES
from infra.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_FILE = REPO_ROOT / "config" / "platform.toml"
# Tests and forks may point the loader at another company configuration.
CONFIG_FILE_VARIABLE = "INFRA_PLATFORM_CONFIG"

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_WORKLOAD = re.compile(r"^[a-z][a-z0-9]{1,5}$")
_FQDN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# An Azure DevOps agent pool name (no leading/trailing space; none of the characters ADO refuses).
_POOL = re.compile(r"^[^\s\\/\"'<>|:*?]([^\\/\"'<>|:*?]{0,62}[^\s\\/\"'<>|:*?])?$")
_SUBNET_ID = re.compile(r"^/subscriptions/[0-9a-f-]{36}/resourceGroups/[^/]+/providers/Microsoft\.Network/"
                        r"virtualNetworks/[^/]+/subnets/[^/]+$", re.IGNORECASE)
# Azure resource group names: 1-90 letters, digits, '.', '_', '-', '(' and ')', not ending in '.'.
_RESOURCE_GROUP = re.compile(r"^[A-Za-z0-9._()-]{0,89}[A-Za-z0-9_()-]$")


@dataclass(frozen=True, kw_only=True)
class PlatformConfig:
    """Identifiers shared by every environment. Nothing here is a credential."""

    name: str
    workload: str
    domain: str
    owner: str
    cost_centre: str
    repository: str
    tenant_id: str
    subscriptions: dict[str, str]
    state_subscription: str
    state_location: str
    dns_parent_resource_group: str
    """Resource group of the parent DNS zone (``domain``), made by the DNS owner outside Terraform ([dns])."""
    agent_pool: str
    """[pipelines] agent_pool: the Azure DevOps agent pool of every job that touches an Azure resource."""
    agent_egress_ranges: tuple[str, ...]
    """[pipelines] agent_egress_ranges: that pool's public IPv4 egress (CIDRs), added to every allow-list."""
    agent_subnet_ids: tuple[str, ...] = ()
    """[pipelines] agent_subnet_ids: that pool's subnets (resource ids), for subnet rules (same-region storage)."""

    def allowed_ip_ranges(self, extra: tuple[str, ...] | list[str] = ()) -> tuple[str, ...]:
        """The agent pool's egress followed by ``extra`` (an environment's own ranges, e.g. operators'), each
        once: the one way every firewall and API-server allow-list is built."""
        out: list[str] = []
        for cidr in (*self.agent_egress_ranges, *extra):
            if cidr not in out:
                out.append(cidr)
        return tuple(out)

    source: str = "config/platform.toml"
    """The file it was read from, as messages show it."""

    def subscription_id(self, alias: str, *, where: str) -> str:
        """The id of subscription ``alias``; ``where`` names the asking environment for the error message."""
        if alias not in self.subscriptions:
            allowed = ", ".join(sorted(self.subscriptions))
            raise ConfigError(f"{where}: field 'subscription' = {alias!r} is not in {_rel(CONFIG_FILE)} "
                              f"[subscriptions]; allowed: {allowed}")
        return self.subscriptions[alias]


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _kind(value: Any) -> str:
    """What TOML made of a value, in TOML's words."""
    kinds = ((bool, "a boolean"), (dict, "a table"), (list, "an array"), (str, "a string"), (int, "an integer"),
             (float, "a float"))
    return next((name for cls, name in kinds if isinstance(value, cls)), "a date or time")


def _table(data: dict[str, Any], section: str, path: Path, *, example: str) -> dict[str, Any]:
    """The table ``[section]``; ConfigError naming the section and its allowed shape when it is missing or
    something else (``subscriptions = ["a"]``, ``company = "northwind"``). New sections use this as well."""
    value = data.get(section)
    if value is None:
        raise ConfigError(f"{_rel(path)}: [{section}] is missing; allowed: a table, e.g. [{section}] "
                          f"followed by {example}")
    if not isinstance(value, dict):
        raise ConfigError(f"{_rel(path)}: {section} = {value!r} is {_kind(value)}; allowed: a table, e.g. "
                          f"[{section}] followed by {example}")
    return value


def _field(table: dict[str, Any], key: str, section: str, path: Path) -> str:
    """The string ``[section] key``; ConfigError when it is missing, not a string, or empty."""
    if key not in table:
        raise ConfigError(f"{_rel(path)}: [{section}] {key} is missing; allowed: {key} = \"<text>\"")
    value = table[key]
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{_rel(path)}: [{section}] {key} = {value!r} is {_kind(value)}; allowed: a "
                          "non-empty string in double quotes")
    return value


def _string_list(table: dict[str, Any], key: str, section: str, path: Path) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{_rel(path)}: [{section}] {key} = {value!r}; allowed: a list of non-empty strings")
    return tuple(value)


def _pipelines(table: dict[str, Any], path: Path) -> dict[str, Any]:
    """[pipelines]: the deploy agent pool and how it reaches the platform (docs/pipelines.md "Agent pool")."""
    pool = _field(table, "agent_pool", "pipelines", path)
    if not _POOL.match(pool):
        raise ConfigError(f"{_rel(path)}: [pipelines] agent_pool = {pool!r}; allowed: an Azure DevOps agent pool "
                          "name (1-64 characters, none of \\ / \" ' < > | : * ?)")
    ranges = _string_list(table, "agent_egress_ranges", "pipelines", path)
    for cidr in ranges:
        try:
            network = ipaddress.IPv4Network(cidr)
        except ValueError:
            raise ConfigError(f"{_rel(path)}: [pipelines] agent_egress_ranges entry {cidr!r}; allowed: public "
                              "IPv4 addresses or CIDRs with no host bits set") from None
        if "/" in cidr and network.prefixlen > 30:
            raise ConfigError(f"{_rel(path)}: [pipelines] agent_egress_ranges entry {cidr!r}; allowed: a prefix "
                              "up to /30, or a single address written without a prefix (storage and Key Vault "
                              "firewalls refuse /31 and /32)")
    if len(set(ranges)) != len(ranges):
        raise ConfigError(f"{_rel(path)}: [pipelines] agent_egress_ranges = {list(ranges)!r}; allowed: each "
                          "range once")
    subnets = _string_list(table, "agent_subnet_ids", "pipelines", path)
    for subnet in subnets:
        if not _SUBNET_ID.match(subnet):
            raise ConfigError(f"{_rel(path)}: [pipelines] agent_subnet_ids entry {subnet!r}; allowed: a subnet "
                              "resource id /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Network/"
                              "virtualNetworks/<vnet>/subnets/<subnet>")
    if not ranges and not subnets:
        raise ConfigError(f"{_rel(path)}: [pipelines] has neither agent_egress_ranges nor agent_subnet_ids; "
                          "allowed: the deploy pool's public egress, its subnets, or both (nothing could "
                          "reach the state storage otherwise)")
    return {"agent_pool": pool, "agent_egress_ranges": ranges, "agent_subnet_ids": subnets}


def load_platform_config(path: Path | None = None) -> PlatformConfig:
    """Read and validate ``config/platform.toml`` (or the file named by ``INFRA_PLATFORM_CONFIG``)."""
    path = path or Path(os.environ.get(CONFIG_FILE_VARIABLE) or CONFIG_FILE)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        named = f"{CONFIG_FILE_VARIABLE}={path}" if os.environ.get(CONFIG_FILE_VARIABLE) else _rel(path)
        raise ConfigError(f"{named}: file not found (company configuration is required; unset "
                          f"{CONFIG_FILE_VARIABLE} for {_rel(CONFIG_FILE)})") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{_rel(path)}: cannot read TOML: {error}") from None

    company = _table(data, "company", path, example='name = "...", workload = "...", domain = "..."')
    subscriptions = _table(data, "subscriptions", path, example='nonprod = "<subscription id>"')
    state = _table(data, "state", path, example='subscription = "<alias>", location = "westeurope"')
    pipelines = _table(data, "pipelines", path, example='agent_pool = "<pool>", agent_egress_ranges = ["<CIDR>"]')
    dns = _table(data, "dns", path, example='parent_resource_group = "<resource group of the parent zone>"')
    config = PlatformConfig(
        name=_field(company, "name", "company", path),
        workload=_field(company, "workload", "company", path),
        domain=_field(company, "domain", "company", path),
        owner=_field(company, "owner", "company", path),
        cost_centre=_field(company, "cost_centre", "company", path),
        repository=_field(company, "repository", "company", path),
        tenant_id=_field(company, "tenant_id", "company", path),
        subscriptions={k: _field(subscriptions, k, "subscriptions", path) for k in subscriptions},
        state_subscription=_field(state, "subscription", "state", path),
        state_location=_field(state, "location", "state", path),
        dns_parent_resource_group=_field(dns, "parent_resource_group", "dns", path),
        source=_rel(path),
        **_pipelines(pipelines, path),
    )
    if not _WORKLOAD.fullmatch(config.workload):
        raise ConfigError(f"{_rel(path)}: [company] workload = {config.workload!r}; allowed: 2-6 lowercase "
                          "letters or digits, starting with a letter")
    if not _FQDN.fullmatch(config.domain):
        raise ConfigError(f"{_rel(path)}: [company] domain = {config.domain!r} is not a lowercase FQDN")
    if not _RESOURCE_GROUP.fullmatch(config.dns_parent_resource_group):
        raise ConfigError(f"{_rel(path)}: [dns] parent_resource_group = {config.dns_parent_resource_group!r}; "
                          "allowed: an Azure resource group name (1-90 letters, digits, . _ - ( ), not ending "
                          "in '.')")
    for key, value in [("tenant_id", config.tenant_id), *config.subscriptions.items()]:
        if not _GUID.fullmatch(value):
            raise ConfigError(f"{_rel(path)}: {key} = {value!r} is not a lowercase GUID")
    if not config.subscriptions:
        raise ConfigError(f"{_rel(path)}: [subscriptions] is empty; name at least one subscription")
    config.subscription_id(config.state_subscription, where=f"{_rel(path)} [state]")
    if config.state_location not in REGION_CODES:
        raise ConfigError(f"{_rel(path)}: [state] location = {config.state_location!r}; allowed: "
                          f"{', '.join(REGION_CODES)} (building_blocks/naming.py REGION_CODES)")
    return config
