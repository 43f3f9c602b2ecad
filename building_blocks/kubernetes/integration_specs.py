"""Typed configuration of customer-specific integration services, stated by enterprise environment modules.

An environment lists its integrations in ``EnvironmentSettings(integrations=(SsoBridge(...),))`` and nothing
else: the base environment's blocks stay shared. Each spec knows its component name (its entry in the version
catalog and its release name) and turns its typed fields into chart values.

Cheap to import (no cdktf): environment modules import it while the registry loads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
# A Key Vault secret name: 1-127 letters, digits and '-'. Lowercase here, so it is also a DNS-1123 name.
_STORE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,125}[a-z0-9])?$")


@dataclass(frozen=True, kw_only=True)
class ExternalSecret:
    """A value that only someone outside this repository has — e.g. the client secret a customer's identity
    provider issued for our application. It has one home: the environment's secret store (its Key Vault),
    where an operator puts it once under ``store_name``; the stack reads it from there and the Kubernetes layer
    writes it into the Secret ``secret_name`` (key ``key``) in the integration's namespace before the
    integration's release. Nothing of the value is in this repository. See docs/secrets.md, "Values from
    outside"."""

    secret_name: str
    """Required. The Kubernetes Secret the chart reads (DNS-1123), in the integration's namespace."""
    key: str
    """Required. The key in that Secret."""
    store_name: str
    """Required. The secret's name in the environment's Key Vault (lowercase letters, digits, '-')."""
    description: str
    """Required. What the value is and who provides it: shown to the operator when it is missing."""

    def __post_init__(self) -> None:
        owner = f"ExternalSecret {self.store_name!r}"
        if not isinstance(self.secret_name, str) or not _NAME.match(self.secret_name):
            raise ValueError(f"{owner}: field 'secret_name' = {self.secret_name!r}; allowed: a DNS-1123 name")
        if not isinstance(self.key, str) or not _DATA_KEY.match(self.key):
            raise ValueError(f"{owner}: field 'key' = {self.key!r}; allowed: 1-253 letters, digits, '-', '_', '.'")
        if not isinstance(self.store_name, str) or not _STORE_NAME.match(self.store_name):
            raise ValueError(
                f"ExternalSecret: field 'store_name' = {self.store_name!r}; allowed: 1-127 lowercase letters, "
                "digits and '-' (a Key Vault secret name)"
            )
        if not isinstance(self.description, str) or not self.description.strip():
            raise ValueError(f"{owner}: field 'description' = {self.description!r}; allowed: a sentence")


@dataclass(frozen=True, kw_only=True)
class IntegrationSpec:
    """Base of every integration: where it runs and under which host. Subclasses set ``component``."""

    component: ClassVar[str] = ""
    """The component name in the version catalog, also the Helm release name."""
    namespace: str = "integrations"
    """The namespace it runs in. Default: ``integrations`` (shared by an environment's integrations)."""
    host_label: str | None = None
    """Public host ``<host_label>.<environment zone>``. Default: none (no Ingress)."""

    def __post_init__(self) -> None:
        where = f"integration {self.component or type(self).__name__!r}"
        if not self.component or not _NAME.fullmatch(self.component):
            raise ValueError(
                f"{where}: class attribute 'component' = {self.component!r}; allowed: a DNS-1123 "
                "component name"
            )
        if (
            not isinstance(self.namespace, str)
            or not _NAME.fullmatch(self.namespace)
            or self.namespace == "default"
        ):
            raise ValueError(
                f"{where}: field 'namespace' = {self.namespace!r}; allowed: a DNS-1123 label other "
                "than 'default'"
            )
        if self.host_label is not None and (
            not isinstance(self.host_label, str) or not _NAME.fullmatch(self.host_label)
        ):
            raise ValueError(
                f"{where}: field 'host_label' = {self.host_label!r}; allowed: None or a DNS label"
            )

    def values(self) -> dict[str, Any]:
        """The chart values this integration's typed fields stand for."""
        raise NotImplementedError

    def external_secrets(self) -> tuple[ExternalSecret, ...]:
        """The values from outside this integration needs (default: none)."""
        return ()


@dataclass(frozen=True, kw_only=True)
class SsoBridge(IntegrationSpec):
    """``sso-bridge``: signs a customer's users in through the customer's own OpenID Connect identity
    provider.

    The OIDC client secret is not configuration: the customer's identity provider issues it, an operator puts it
    into the environment's Key Vault once (:data:`OIDC_CLIENT_SECRET`, ``sso-bridge-oidc-client-secret``), and
    the layer writes it into the Secret ``sso-bridge-oidc`` (key ``client-secret``) the chart reads — created
    before the release, so the pods never start without it."""

    component: ClassVar[str] = "sso-bridge"
    OIDC_CLIENT_SECRET: ClassVar[ExternalSecret] = ExternalSecret(
        secret_name="sso-bridge-oidc",
        key="client-secret",
        store_name="sso-bridge-oidc-client-secret",
        description="the OIDC client secret of the sso-bridge application registered at the customer's "
        "identity provider (the customer's IdP administrator issues it)",
    )
    issuer_url: str
    """Required. The customer's OIDC issuer, ``https://…`` (e.g. ``https://login.microsoftonline.com/<tenant>/v2.0``)."""
    client_id: str
    """Required. The application (client) id registered at the customer's identity provider."""
    allowed_email_domains: tuple[str, ...]
    """Required. E-mail domains whose users may sign in (at least one)."""
    host_label: str | None = "sso"
    """Default: ``sso`` (``sso.<environment zone>``)."""
    replicas: int = 2
    """Pod replicas (1-10). Default: 2, so a node drain never interrupts sign-in."""
    session_lifetime_minutes: int = 480
    """Session length in minutes (5-1440). Default: 480 (a working day)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        where = "integration 'sso-bridge'"
        if not isinstance(self.issuer_url, str) or not re.fullmatch(r"^https://[^\s/]+(/\S*)?$", self.issuer_url):
            raise ValueError(f"{where}: field 'issuer_url' = {self.issuer_url!r}; allowed: an https:// URL")
        if not isinstance(self.client_id, str) or not re.fullmatch(
            r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", self.client_id
        ):
            raise ValueError(f"{where}: field 'client_id' = {self.client_id!r}; allowed: an OIDC client id")
        domains = self.allowed_email_domains
        if (
            not isinstance(domains, tuple)
            or not domains
            or not all(isinstance(d, str) and _DOMAIN.fullmatch(d) for d in domains)
        ):
            one = f" (one domain needs the trailing comma: ({domains!r},))" if isinstance(domains, str) else ""
            raise ValueError(
                f"{where}: field 'allowed_email_domains' = {domains!r}; allowed: a non-empty tuple of "
                f"lowercase domain names{one}"
            )
        for field_name, low, high in (("replicas", 1, 10), ("session_lifetime_minutes", 5, 1440)):
            value = getattr(self, field_name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ValueError(
                    f"{where}: field '{field_name}' = {value!r}; allowed: an integer from {low} to {high}"
                )

    def values(self) -> dict[str, Any]:
        return {
            "replicaCount": self.replicas,
            "podDisruptionBudget": {"enabled": self.replicas > 1, "minAvailable": 1},
            "config": {
                "oidc": {
                    "issuerUrl": self.issuer_url,
                    "clientId": self.client_id,
                    "clientSecretRef": {
                        "name": self.OIDC_CLIENT_SECRET.secret_name,
                        "key": self.OIDC_CLIENT_SECRET.key,
                    },
                },
                "allowedEmailDomains": list(self.allowed_email_domains),
                "sessionLifetimeMinutes": self.session_lifetime_minutes,
            },
        }

    def external_secrets(self) -> tuple[ExternalSecret, ...]:
        return (self.OIDC_CLIENT_SECRET,)
