"""Every Azure resource name comes from :func:`resource_name`; nothing else builds names.

Pattern (Cloud Adoption Framework): ``<abbreviation>-<workload>-<environment>[-<region>][-<instance>]``,
lowercase, ``-`` as the one delimiter. Kinds whose names may not contain hyphens drop them; kinds whose names
must be globally unique (storage account, Key Vault, registry, PostgreSQL server) end in a 4-character suffix
that is a stable hash of the subscription, environment and kind, so the same inputs always give the same name.
Every result is checked against the azurerm naming rule of its kind before it is returned.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# Azure regions this platform may deploy to, with their short codes. Add a region here to allow it.
REGION_CODES: dict[str, str] = {
    "westeurope": "weu",
    "northeurope": "neu",
    "swedencentral": "sdc",
    "germanywestcentral": "gwc",
    "francecentral": "frc",
    "uksouth": "uks",
    "eastus": "eus",
    "eastus2": "eus2",
    "westus3": "wus3",
}


class NamingError(ValueError):
    """A name that breaks its kind's Azure rule; the message says the rule."""


@dataclass(frozen=True)
class _Rule:
    abbreviation: str
    pattern: str  # full-match regex of the Azure rule
    description: str  # the rule in words, for error messages
    hyphens: bool = True  # False: the parts are joined without delimiter
    region: bool = True  # True: the region code is part of the name
    unique: bool = False  # True: globally unique, gets the stable suffix
    max_length: int = 63


_RULES: dict[str, _Rule] = {
    "resource_group": _Rule("rg", r"[a-z0-9][a-z0-9._()-]{0,88}[a-z0-9_()]", "1-90 letters, digits, . _ ( ) -",
                            max_length=90),
    "virtual_network": _Rule("vnet", r"[a-z0-9][a-z0-9._-]{0,62}[a-z0-9_]", "2-64 letters, digits, . _ -",
                             max_length=64),
    "subnet": _Rule("snet", r"[a-z0-9][a-z0-9._-]{0,78}[a-z0-9_]", "2-80 letters, digits, . _ -",
                    max_length=80),
    "network_security_group": _Rule("nsg", r"[a-z0-9][a-z0-9._-]{0,78}[a-z0-9_]", "2-80 letters, digits, . _ -",
                                    max_length=80),
    "kubernetes_cluster": _Rule("aks", r"[a-z0-9][a-z0-9_-]{0,61}[a-z0-9]",
                                "1-63 letters, digits, _ and -, starting and ending with a letter or digit"),
    "aks_dns_prefix": _Rule("aks", r"[a-z0-9][a-z0-9-]{0,52}[a-z0-9]",
                            "1-54 letters, digits and -, starting and ending with a letter or digit",
                            max_length=54),
    "node_resource_group": _Rule("rg", r"[a-z0-9][a-z0-9._()-]{0,78}[a-z0-9_()]",
                                 "1-80 letters, digits, . _ ( ) -", max_length=80),
    "key_vault": _Rule("kv", r"[a-z](?!.*--)[a-z0-9-]{1,22}[a-z0-9]",
                       "3-24 letters, digits and -, starting with a letter, ending with a letter or digit, no --",
                       region=False, unique=True, max_length=24),
    "storage_account": _Rule("st", r"[a-z0-9]{3,24}", "3-24 lowercase letters and digits",
                             hyphens=False, region=False, unique=True, max_length=24),
    "container_registry": _Rule("cr", r"[a-z0-9]{5,50}", "5-50 lowercase letters and digits",
                                hyphens=False, region=False, unique=True, max_length=50),
    "log_analytics_workspace": _Rule("log", r"[a-z0-9][a-z0-9-]{2,61}[a-z0-9]",
                                     "4-63 letters, digits and -, starting and ending with a letter or digit"),
    "postgresql_server": _Rule("psql", r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]",
                               "3-63 lowercase letters, digits and -, not starting or ending with -",
                               unique=True),
    "user_assigned_identity": _Rule("id", r"[a-z0-9][a-z0-9_-]{2,127}", "3-128 letters, digits, _ and -",
                                    max_length=128),
    "data_collection_rule": _Rule("dcr", r"[a-z0-9][a-z0-9._-]{0,62}[a-z0-9_]", "2-64 letters, digits, . _ -",
                                  max_length=64),
    "diagnostic_setting": _Rule("diag", r"[a-z0-9][a-z0-9._-]{0,78}[a-z0-9]", "2-80 letters, digits, . _ -",
                                max_length=80),
    "private_endpoint": _Rule("pep", r"[a-z0-9][a-z0-9._-]{0,78}[a-z0-9_]", "2-80 letters, digits, . _ -",
                              max_length=80),
    "private_dns_zone_link": _Rule("pdnslink", r"[a-z0-9][a-z0-9._-]{0,78}[a-z0-9_]",
                                   "1-80 letters, digits, . _ -", max_length=80),
}

KINDS = tuple(sorted(_RULES))

_PART = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_NODE_POOL = re.compile(r"^[a-z][a-z0-9]{0,11}$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# RFC 1035 section 2.3.1 (labels of letters, digits and hyphens, at most 63 octets), lowercase by house rule.
DNS_LABEL_RULE = "1-63 lowercase letters, digits and -, not starting or ending with -"


def stable_suffix(*parts: str, length: int = 4) -> str:
    """A short lowercase hex digest of ``parts``: the same inputs always give the same suffix."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def resource_name(kind: str, *, workload: str, environment: str, region: str | None = None,
                  instance: str | None = None, unique_seed: str | None = None) -> str:
    """The name of an Azure resource of ``kind`` (one of :data:`KINDS`).

    ``environment`` is the environment's short name (lowercase letters, digits, single hyphens); ``region``
    an Azure region (required for kinds whose name carries one); ``instance`` an optional qualifier such as
    ``system`` or ``tfstate``; ``unique_seed`` (required for globally unique kinds, usually the subscription id)
    feeds the stable suffix. Raises :class:`NamingError` naming the rule when the result would break it.
    """
    rule = _RULES.get(kind)
    if rule is None:
        raise NamingError(f"unknown resource kind {kind!r}; allowed: {', '.join(KINDS)}")
    for label, value in (("workload", workload), ("environment", environment), ("instance", instance)):
        if value is not None and not _PART.fullmatch(value):
            raise NamingError(f"{kind} name part {label} = {value!r}; allowed: lowercase letters and digits, "
                              "single hyphens between them")
    parts = [rule.abbreviation, workload, environment]
    if rule.region:
        if region is None:
            raise NamingError(f"{kind} name needs a region; allowed: {', '.join(REGION_CODES)}")
        parts.append(region_code(region))
    if instance:
        parts.append(instance)
    if rule.unique:
        if not unique_seed:
            raise NamingError(f"{kind} names are globally unique and need a unique_seed (the subscription id)")
        parts.append(stable_suffix(unique_seed, environment, kind))
    name = "-".join(parts) if rule.hyphens else "".join(p.replace("-", "") for p in parts)
    if len(name) > rule.max_length or not re.fullmatch(rule.pattern, name):
        raise NamingError(f"{kind} name {name!r} ({len(name)} characters) breaks the Azure rule: "
                          f"{rule.description}; shorten the workload or the environment's short_name")
    return name


def region_code(region: str) -> str:
    """The short code of an allowed Azure region (``westeurope`` → ``weu``)."""
    if region not in REGION_CODES:
        raise NamingError(f"unknown Azure region {region!r}; allowed: {', '.join(REGION_CODES)}")
    return REGION_CODES[region]


def node_pool_name(name: str) -> str:
    """Validate an AKS node pool name: ``^[a-z][a-z0-9]{0,11}$`` (Linux pools)."""
    if not _NODE_POOL.fullmatch(name):
        raise NamingError(f"node pool name {name!r}; allowed: 1-12 lowercase letters and digits, "
                          "starting with a letter")
    return name


def is_dns_label(label: str) -> bool:
    """True when ``label`` is one DNS label by :data:`DNS_LABEL_RULE` (cheap: settings check it early)."""
    return isinstance(label, str) and bool(_DNS_LABEL.fullmatch(label))


def dns_zone_name(label: str, parent: str) -> str:
    """The FQDN ``<label>.<parent>`` of an environment's public zone, checked as a valid DNS name."""
    if not is_dns_label(label):
        raise NamingError(f"DNS label {label!r}; allowed: {DNS_LABEL_RULE}")
    fqdn = f"{label}.{parent}"
    labels = parent.split(".")
    if len(fqdn) > 253 or len(labels) < 2 or not all(_DNS_LABEL.fullmatch(p) for p in labels):
        raise NamingError(f"DNS zone {fqdn!r} is not a valid FQDN (labels of 1-63 characters, at most 253 "
                          "in all, at least a name and a top-level domain in the parent)")
    return fqdn


@dataclass(frozen=True, kw_only=True)
class Namer:
    """:func:`resource_name` bound to one environment, handed to every building block of its stack."""

    workload: str
    """The company's short prefix (``config/platform.toml`` [company] workload)."""
    environment: str
    """The environment's short name."""
    region: str
    """The environment's Azure region."""
    unique_seed: str
    """Seed of the stable suffix of globally unique names (the subscription id)."""

    def name(self, kind: str, instance: str | None = None) -> str:
        """The name of this environment's resource of ``kind`` (see :data:`KINDS`)."""
        return resource_name(kind, workload=self.workload, environment=self.environment, region=self.region,
                             instance=instance, unique_seed=self.unique_seed)
