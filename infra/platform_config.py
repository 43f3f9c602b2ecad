"""Company-wide configuration (``config/platform.toml``): tenant, subscriptions, domain, tag owners."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_FILE = REPO_ROOT / "config" / "platform.toml"
# Tests and forks may point the loader at another company configuration.
CONFIG_FILE_VARIABLE = "INFRA_PLATFORM_CONFIG"

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_WORKLOAD = re.compile(r"^[a-z][a-z0-9]{1,5}$")
_FQDN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
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


def _field(table: dict[str, Any], key: str, section: str, path: Path) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{_rel(path)}: [{section}] {key} is missing or not a non-empty string")
    return value


def load_platform_config(path: Path | None = None) -> PlatformConfig:
    """Read and validate ``config/platform.toml`` (or the file named by ``INFRA_PLATFORM_CONFIG``)."""
    path = path or Path(os.environ.get(CONFIG_FILE_VARIABLE) or CONFIG_FILE)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{_rel(path)}: file not found (company configuration is required)") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{_rel(path)}: cannot read TOML: {error}") from None

    company = data.get("company", {})
    subscriptions = data.get("subscriptions", {})
    state = data.get("state", {})
    dns = data.get("dns", {})
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
    )
    if not _WORKLOAD.match(config.workload):
        raise ConfigError(f"{_rel(path)}: [company] workload = {config.workload!r}; allowed: 2-6 lowercase "
                          "letters or digits, starting with a letter")
    if not _FQDN.match(config.domain):
        raise ConfigError(f"{_rel(path)}: [company] domain = {config.domain!r} is not a lowercase FQDN")
    if not _RESOURCE_GROUP.match(config.dns_parent_resource_group):
        raise ConfigError(f"{_rel(path)}: [dns] parent_resource_group = {config.dns_parent_resource_group!r}; "
                          "allowed: an Azure resource group name (1-90 letters, digits, . _ - ( ), not ending "
                          "in '.')")
    for key, value in [("tenant_id", config.tenant_id), *config.subscriptions.items()]:
        if not _GUID.match(value):
            raise ConfigError(f"{_rel(path)}: {key} = {value!r} is not a lowercase GUID")
    if not config.subscriptions:
        raise ConfigError(f"{_rel(path)}: [subscriptions] is empty; name at least one subscription")
    config.subscription_id(config.state_subscription, where=f"{_rel(path)} [state]")
    return config
