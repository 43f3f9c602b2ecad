"""The company's own services (``api``, ``web``, ``worker``, and per-customer integrations) from OCI charts.

Chart version and image tag come in as a :class:`ChartVersion` per service (the environment's release); the
block never reads files. Each product namespace is created here with its ``platform-settings`` config map and
(optionally) the global secrets, and every release depends on both, so pods never start without them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cdktf
from constructs import Construct

from building_blocks.kubernetes.connection import is_reference
from building_blocks.kubernetes.helm_chart import ChartVersion, HelmChart
from building_blocks.kubernetes.namespace import DNS1123_LABEL, Namespace, PodSecurityLevel
from building_blocks.kubernetes.network_policy import NetworkPolicies
from building_blocks.kubernetes.platform_settings import (
    PLATFORM_SETTINGS_NAME,
    GlobalSecrets,
    PlatformSettings,
)

_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_REGISTRY = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]+)?$")


@dataclass(frozen=True, kw_only=True)
class ServiceRelease:
    """One of the company's services as the stack wants it deployed."""

    name: str
    """Required. Release and component name (DNS-1123), also the image repository in the registry."""
    chart: ChartVersion
    """Required. Chart and version; ``image_tag`` is required, ``repository`` defaults to the registry."""
    namespace: str = "product"
    """The namespace it runs in. Default: ``product``."""
    host: str | None = None
    """Public host name served through the ingress controller. Default: none (no Ingress, e.g. a worker)."""
    values: Mapping[str, Any] = field(default_factory=dict)
    """Chart values merged over the standard ones (image, ingress, platform settings). Default: none."""
    secrets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Kubernetes Secrets of this service alone: Secret name → key → Terraform reference (never a literal),
    created in its namespace before its release — e.g. an integration's values from outside. Default: none."""


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` merged in recursively (mappings merge, anything else replaces)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class ProductServices(Construct):
    """Namespaces, their platform settings and secrets, and a :class:`HelmChart` per :class:`ServiceRelease`.

    The values contract every company chart follows (documented in docs/kubernetes-layer.md):
    ``image.registry`` / ``image.repository`` / ``image.tag``, ``ingress.enabled`` / ``className`` /
    ``host`` / ``tls`` / ``annotations``, and ``platformSettings.configMapName`` / ``secretName`` for
    ``envFrom``.

    Exposes ``namespaces`` (name → :class:`Namespace`), ``settings`` (name → :class:`PlatformSettings`),
    ``secrets`` (name → :class:`GlobalSecrets`, empty without secrets), ``service_secrets`` (service → Secret
    name → :class:`GlobalSecrets`, a service's own) and ``charts`` (service → HelmChart).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        registry: str,
        services: Sequence[ServiceRelease],
        environment: str,
        region: str,
        dns_domain: str,
        component_versions: Mapping[str, str],
        secrets: Mapping[str, str] | None = None,
        secrets_write_only_revision: int | None = None,
        ingress_class: str = "nginx",
        cluster_issuer: str | None = None,
        pod_security: PodSecurityLevel = "baseline",
        timeout_seconds: int = 600,
        ingress_namespace: str | None = None,
        depends_on: Sequence[cdktf.ITerraformDependable] = (),
    ) -> None:
        """Required: ``registry`` (registry host, e.g. ``nwtacr.azurecr.io`` or a reference; charts come from
        ``oci://<registry>/helm``, images from ``<registry>/<name>``), ``services`` (at least one, unique
        names), and the platform-settings data ``environment``, ``region``, ``dns_domain``,
        ``component_versions`` (see :class:`PlatformSettings`).

        ``secrets`` (default none: no secret object): key → reference, written as ``platform-secrets`` into
        every namespace here (see :class:`GlobalSecrets`, also for ``secrets_write_only_revision``).
        ``ingress_class`` (default ``nginx``). ``cluster_issuer`` (default none: no cert-manager annotation):
        the ClusterIssuer that signs the services' TLS certificates. ``pod_security`` (default ``baseline``)
        of the namespaces. ``timeout_seconds`` (default 600) per release. ``ingress_namespace`` (default none: no
        NetworkPolicies): the ingress controller's namespace; set, every namespace here gets
        :class:`NetworkPolicies` (default-deny ingress, allows from itself and from the ingress controller) and
        the releases wait for them, so no pod starts before its namespace is locked down. ``depends_on``
        (default none): what the namespaces, and so everything here, wait for (e.g. the ingress controller and
        cert-manager, whose webhooks validate the services' objects)."""
        super().__init__(scope, id_)
        owner = "ProductServices"
        if not isinstance(registry, str) or not (is_reference(registry) or _REGISTRY.match(registry)):
            raise ValueError(
                f"{owner} registry = {registry!r}; allowed: a registry host such as "
                "'nwtacr.azurecr.io' (no scheme) or a reference to one"
            )
        if not services:
            raise ValueError(f"{owner} services = {services!r}; allowed: at least one ServiceRelease")
        names = [s.name if isinstance(s, ServiceRelease) else s for s in services]
        for service in services:
            self._check_service(owner, service)
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"{owner} services name {duplicates} more than once; allowed: unique names")
        secret_names = [(service.namespace, secret) for service in services for secret in service.secrets]
        if secrets:
            secret_names += [(namespace, "platform-secrets") for namespace in {s.namespace for s in services}]
        clashes = sorted({f"{ns}/{name}" for ns, name in secret_names if secret_names.count((ns, name)) > 1})
        if clashes:
            raise ValueError(
                f"{owner} Secret {clashes} made more than once; allowed: one Secret name per namespace "
                "(platform-secrets is the global secrets')"
            )
        self.namespaces: dict[str, Namespace] = {}
        self.settings: dict[str, PlatformSettings] = {}
        self.secrets: dict[str, GlobalSecrets] = {}
        self.charts: dict[str, HelmChart] = {}
        self.service_secrets: dict[str, dict[str, GlobalSecrets]] = {}
        self.network_policies: dict[str, NetworkPolicies] = {}
        for ns_name in sorted({s.namespace for s in services}):
            namespace = Namespace(
                self, f"namespace-{ns_name}", name=ns_name, pod_security=pod_security, depends_on=depends_on
            )
            self.namespaces[ns_name] = namespace
            if ingress_namespace is not None:
                self.network_policies[ns_name] = NetworkPolicies(
                    self, f"network-policies-{ns_name}", namespace=namespace, ingress_namespace=ingress_namespace
                )
            self.settings[ns_name] = PlatformSettings(
                self,
                f"platform-settings-{ns_name}",
                namespace=namespace,
                environment=environment,
                region=region,
                dns_domain=dns_domain,
                component_versions=component_versions,
            )
            if secrets:
                self.secrets[ns_name] = GlobalSecrets(
                    self,
                    f"secrets-{ns_name}",
                    namespace=namespace,
                    values=secrets,
                    write_only_revision=secrets_write_only_revision,
                )
        for service in services:
            chart = service.chart
            ingress: dict[str, Any] = {"enabled": service.host is not None, "className": ingress_class}
            if service.host is not None:
                ingress.update(host=service.host, tls={"enabled": True, "secretName": f"{service.name}-tls"})
                if cluster_issuer:
                    ingress["annotations"] = {"cert-manager.io/cluster-issuer": cluster_issuer}
            standard = {
                "image": {"registry": registry, "repository": service.name, "tag": chart.image_tag},
                "ingress": ingress,
                "platformSettings": {
                    "configMapName": PLATFORM_SETTINGS_NAME,
                    "secretName": "platform-secrets" if secrets else None,
                },
            }
            depends: list[cdktf.ITerraformDependable] = [self.settings[service.namespace].config_map]
            if service.namespace in self.secrets:
                depends.append(self.secrets[service.namespace].secret)
            if service.namespace in self.network_policies:
                depends.extend(self.network_policies[service.namespace].policies)
            own = self.service_secrets.setdefault(service.name, {})
            for secret_name, secret_values in service.secrets.items():
                own[secret_name] = GlobalSecrets(
                    self,
                    f"{service.name}-secret-{secret_name}",
                    namespace=self.namespaces[service.namespace],
                    values=secret_values,
                    name=secret_name,
                )
                depends.append(own[secret_name].secret)
            self.charts[service.name] = HelmChart(
                self,
                service.name,
                release_name=service.name,
                chart=chart.chart,
                repository=chart.repository or f"oci://{registry}/helm",
                version=chart.version,
                namespace=self.namespaces[service.namespace],
                values=deep_merge(standard, service.values),
                timeout_seconds=timeout_seconds,
                depends_on=depends,
            )

    @staticmethod
    def _check_service(owner: str, service: object) -> None:
        if not isinstance(service, ServiceRelease):
            raise ValueError(f"{owner} service {service!r}; allowed: a ServiceRelease")
        where = f"{owner} service {service.name!r}"
        if (
            not isinstance(service.name, str)
            or not DNS1123_LABEL.match(service.name)
            or len(service.name) > 53
        ):
            raise ValueError(
                f"{owner} service name = {service.name!r}; allowed: a DNS-1123 label of at most 53 characters"
            )
        if not isinstance(service.chart, ChartVersion):
            raise ValueError(f"{where} chart = {service.chart!r}; allowed: a ChartVersion")
        tag = service.chart.image_tag
        if not isinstance(tag, str) or not _IMAGE_TAG.match(tag) or tag == "latest":
            raise ValueError(
                f"{where} image_tag = {tag!r}; allowed: an exact image tag (not empty, not 'latest')"
            )
        if service.host is not None and not (is_reference(service.host) or _HOST.match(str(service.host))):
            raise ValueError(f"{where} host = {service.host!r}; allowed: a lowercase DNS name or None")
        if not isinstance(service.values, Mapping):
            raise ValueError(
                f"{where} values = {type(service.values).__name__}; allowed: a mapping of typed Python data"
            )
        if not isinstance(service.secrets, Mapping) or not all(
            isinstance(v, Mapping) and v for v in service.secrets.values()
        ):
            raise ValueError(
                f"{where} secrets = {type(service.secrets).__name__}; allowed: Secret name → key → reference"
            )
