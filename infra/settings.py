"""The typed, validated model of an environment definition. Defaults live here and only here.

An environment module in ``environments/`` builds one :class:`EnvironmentSettings` (or, for ``bootstrap``,
one :class:`BootstrapSettings`) and states only what differs from these defaults. Every rule that spans
fields is checked in ``__post_init__``; rules that span environments (unique names, non-overlapping address
spaces) are checked by :mod:`infra.registry`. A failed check raises :class:`ConfigError` with one line naming
the environment, the field, the value and what is allowed.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import types
import typing
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from typing import Any, Literal, get_args, get_origin

from building_blocks.kubernetes.integration_specs import IntegrationSpec
from building_blocks.kubernetes.platform_options import (
    INGRESS_SERVICE_TYPES,
    ContainerResources,
    IngressServiceType,
    PlatformResources,
)
from building_blocks.maintenance import WEEKDAYS
from building_blocks.naming import DNS_LABEL_RULE, REGION_CODES, is_dns_label
from building_blocks.secret_catalog import SECRET_NAMES
from infra.errors import ConfigError

EnvironmentKind = Literal["dev", "staging", "production", "enterprise", "external"]
SkuTier = Literal["Free", "Standard", "Premium"]
# The ClusterIssuers the Kubernetes layer creates (building_blocks/kubernetes/cluster_issuers.py).
TlsIssuer = Literal["letsencrypt", "letsencrypt-staging"]

ENVIRONMENT_KINDS: tuple[str, ...] = get_args(EnvironmentKind)
SKU_TIERS: tuple[str, ...] = get_args(SkuTier)
TLS_ISSUERS: tuple[str, ...] = get_args(TlsIssuer)
# Kinds whose loss would hurt customers: paid SLA, zones, purge protection, restricted API server.
PRODUCTION_LIKE: frozenset[str] = frozenset({"production", "enterprise"})

_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_SHORT_NAME = re.compile(r"^[a-z][a-z0-9]{1,7}$")
_VM_SIZE = re.compile(r"^Standard_[A-Za-z0-9_]+$")
_TAG_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")
NAME_MAX_LENGTH = 20
_REGISTRY_HOST = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_POSTGRES_SKU = re.compile(r"^(B|GP|MO)_Standard_[A-Za-z0-9_]+$")
POSTGRES_VERSIONS: tuple[str, ...] = ("14", "15", "16", "17")
_RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))

# Requests and memory limits of the platform charts' containers, sized for a small cluster (a few
# Standard_D4ds_v5 nodes, tens of Ingresses and certificates). No CPU limits: CPU is compressible, and a limit
# throttles the controllers (docs/kubernetes-layer.md, "Resources"). Per environment:
# platform_resources=dataclasses.replace(DEFAULT_PLATFORM_RESOURCES, ingress_controller=ContainerResources(...)).
DEFAULT_PLATFORM_RESOURCES = PlatformResources(
    # Upstream requests 100m / 90Mi (values.yaml); nginx runs one worker per node CPU, so room above that.
    ingress_controller=ContainerResources(cpu_request="100m", memory_request="128Mi", memory_limit="512Mi"),
    # kube-webhook-certgen, seconds per install/upgrade (upstream example in values.yaml: 10m / 20Mi).
    ingress_admission_jobs=ContainerResources(cpu_request="10m", memory_request="32Mi", memory_limit="64Mi"),
    cert_manager_controller=ContainerResources(cpu_request="10m", memory_request="64Mi", memory_limit="256Mi"),
    cert_manager_webhook=ContainerResources(cpu_request="10m", memory_request="32Mi", memory_limit="128Mi"),
    # cainjector caches Secrets and webhook/CRD objects cluster-wide: the largest of the three.
    cert_manager_cainjector=ContainerResources(cpu_request="10m", memory_request="128Mi", memory_limit="512Mi"),
    cert_manager_startupapicheck=ContainerResources(cpu_request="10m", memory_request="32Mi",
                                                    memory_limit="64Mi"),
    external_dns=ContainerResources(cpu_request="10m", memory_request="64Mi", memory_limit="256Mi"),
)

# The file being loaded by infra.registry, so that settings built there name their file in error messages.
LOADING_FILE: ContextVar[str] = ContextVar("LOADING_FILE", default="<unknown>")


def _fail(where: str, field_name: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(f"{where}: field '{field_name}' = {value!r}; allowed: {allowed}")


_SCALAR_NAMES = {str: "a string", int: "an integer", bool: "True or False", float: "a number"}


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """The evaluated annotations of a settings dataclass (the module uses postponed annotations)."""
    return typing.get_type_hints(cls)


def _describe(hint: Any) -> str:
    """``hint`` in words, for the "allowed:" part of a message."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (typing.Union, types.UnionType):
        shown = [_describe(a) for a in args if a is not type(None)]
        return " or ".join(shown) + (", or None" if type(None) in args else "")
    if origin is Literal:
        return ", ".join(str(a) for a in args)
    if origin is tuple:
        return f"a tuple of {_plural(args[0])}"
    if origin is Mapping or origin is dict:
        return f"a dict of {_plural(args[0])} to {_plural(args[1])}" if args else "a dict"
    if hint in _SCALAR_NAMES:
        return _SCALAR_NAMES[hint]
    return f"a {getattr(hint, '__name__', hint)}(...)"


def _plural(hint: Any) -> str:
    return {str: "strings", int: "integers", bool: "booleans"}.get(hint) or f"{hint.__name__} objects"


def _matches(value: Any, hint: Any) -> bool:
    """True when ``value`` has the shape ``hint`` states. Checked: scalars (a bool is not an int), unions,
    literals, ``tuple[X, ...]`` with its items, mappings with string keys (values: each field's own rule),
    classes. Any other annotation passes (the field's own rule checks it)."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if origin is tuple:
        item = args[0] if len(args) == 2 and args[1] is Ellipsis else Any
        return isinstance(value, tuple) and all(_matches(v, item) for v in value)
    if origin is Mapping or origin is dict:
        return isinstance(value, Mapping) and all(isinstance(k, str) for k in value)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def _one_value_hint(value: Any, hint: Any) -> str:
    """How to write a single value where a tuple belongs (``("10.0.0.0/8")`` is a string, not a tuple), or a
    list where a tuple belongs; empty otherwise."""
    for option in get_args(hint) if get_origin(hint) in (typing.Union, types.UnionType) else (hint,):
        if get_origin(option) is not tuple:
            continue
        if _matches((value,), option):
            shown = repr(value) if len(repr(value)) <= 60 else "..."
            return f" (one value needs the trailing comma: ({shown},))"
        if isinstance(value, list) and _matches(tuple(value), option):
            return " (round brackets ( ), not a list [ ])"
    return ""


def _check_type(where: str, obj: Any) -> None:
    """Reject a value whose shape does not match its field's annotation: a string or a list where a tuple
    belongs, a list where a dict belongs, a string where an integer or a bool belongs. The message names the
    field, the value received and the shape allowed. New fields are covered by their annotation alone."""
    hints = _hints(type(obj))
    for f in fields(obj):
        hint = hints.get(f.name, Any)
        value = getattr(obj, f.name)
        if not _matches(value, hint):
            raise _fail(where, f.name, value, _describe(hint) + _one_value_hint(value, hint))


@dataclass(frozen=True, kw_only=True)
class NodePoolSettings:
    """One AKS node pool's size and autoscaling bounds."""

    vm_size: str = "Standard_D4ds_v5"
    """Azure VM size of every node."""
    min_count: int = 1
    """Autoscaler lower bound (≥ 1)."""
    max_count: int = 3
    """Autoscaler upper bound (≥ min_count, ≤ 100)."""
    max_pods: int = 50
    """Pods per node (30-250); 50 leaves room for Azure CNI overlay without wasting IPs."""
    os_disk_size_gb: int = 128
    """Ephemeral OS disk size in GiB."""

    def validate(self, where: str) -> None:
        _check_type(where, self)
        if not _VM_SIZE.fullmatch(self.vm_size):
            raise _fail(where, "vm_size", self.vm_size, "an Azure VM size such as 'Standard_D4ds_v5'")
        if self.min_count < 1:
            raise _fail(where, "min_count", self.min_count, "an integer ≥ 1")
        if self.max_count < self.min_count:
            raise ConfigError(f"{where}: field 'min_count' = {self.min_count} is greater than 'max_count' = "
                              f"{self.max_count}; allowed: min_count ≤ max_count")
        if self.max_count > 100:
            raise _fail(where, "max_count", self.max_count, "an integer ≤ 100")
        if not 30 <= self.max_pods <= 250:
            raise _fail(where, "max_pods", self.max_pods, "an integer from 30 to 250")
        if not 30 <= self.os_disk_size_gb <= 2048:
            raise _fail(where, "os_disk_size_gb", self.os_disk_size_gb, "an integer from 30 to 2048")


@dataclass(frozen=True, kw_only=True)
class EnvironmentSettings:
    """Everything that makes one environment different from another.

    Fields left at ``None`` are derived from ``kind`` in ``__post_init__`` (documented per field), so an
    environment module names only what it changes.
    """

    name: str
    """Required. The stack name (`cdktf deploy <name>`): lowercase letters, digits, single hyphens, ≤ 20."""
    kind: EnvironmentKind
    """Required. dev, staging, production, enterprise (customer-dedicated) or external (an existing cluster)."""
    short_name: str | None = None
    """Name part in length-limited resource names (2-8 lowercase letters/digits). Default: ``name`` without
    hyphens, which must then be short enough."""
    location: str = "westeurope"
    """Azure region (one of :data:`building_blocks.naming.REGION_CODES`)."""
    subscription: str = "nonprod"
    """Alias of the subscription in ``config/platform.toml`` [subscriptions]."""
    address_space: str | None = None
    """The environment's virtual network (a /16 to /22 IPv4 CIDR). Required unless kind is external; must not
    overlap any other environment's."""
    dns_label: str | None = None
    """Label of the public zone ``<dns_label>.<company domain>``. Default: ``name``."""
    system_pool: NodePoolSettings = field(default_factory=lambda: NodePoolSettings(min_count=1, max_count=3))
    """System node pool (critical add-ons only)."""
    user_pool: NodePoolSettings = field(default_factory=lambda: NodePoolSettings(min_count=1, max_count=5))
    """User node pool (workloads)."""
    aks_sku_tier: SkuTier | None = None
    """AKS control plane tier. Default: Standard (financially backed SLA) for production-like kinds, else Free."""
    availability_zones: tuple[str, ...] | None = None
    """Zones for node pools. Default: ("1", "2", "3") for production-like kinds, else none."""
    api_server_authorized_ip_ranges: tuple[str, ...] = ()
    """CIDRs allowed to reach the public API server besides the deploy agent pool's egress (which the stack
    adds from config/platform.toml [pipelines]): operators' ranges. Production-like kinds must set this or
    ``private_cluster``."""
    private_cluster: bool = False
    """API server on a private endpoint only (needs self-hosted agents in the network)."""
    pipeline_ip_ranges: tuple[str, ...] | None = None
    """Public IPv4 egress (addresses or CIDRs) of operators, let through the Key Vault and container registry
    firewalls next to the deploy agent pool's egress (which the stack adds from config/platform.toml
    [pipelines]). Default: the IPv4 entries of ``api_server_authorized_ip_ranges``."""
    pod_cidr: str = "192.168.0.0/16"
    """AKS overlay pod range (not routable in the VNet, may repeat across clusters; must not overlap
    ``address_space`` or ``service_cidr``)."""
    service_cidr: str = "172.16.0.0/16"
    """AKS service range; the cluster DNS service gets its 10th address. Must not overlap
    ``address_space``."""
    cluster_admin_group_object_ids: tuple[str, ...] = ()
    """Entra ID groups (object ids) that get cluster-admin through the AKS Entra integration. Default: none
    (access is granted with Azure RBAC role assignments on the cluster)."""
    aks_upgrade_channel: Literal["patch", "stable", "rapid"] = "patch"
    """AKS automatic upgrade channel: ``patch`` keeps the minor version and applies its patches; minor
    upgrades stay a deliberate change."""
    maintenance_day: str | None = None
    """Weekday of the weekly maintenance window (AKS upgrades, node images, PostgreSQL). Default: Sunday for
    production-like kinds, Tuesday otherwise (so non-production meets a new version first)."""
    maintenance_start_hour: int = 2
    """UTC hour (0-23) the four-hour maintenance window starts."""
    log_retention_days: int | None = None
    """Log Analytics retention (30-730 days). Default: 90 for production-like kinds, 30 otherwise."""
    container_registry_sku: Literal["Basic", "Standard", "Premium"] | None = None
    """ACR tier. Default: Premium (firewall, private endpoint, zone redundancy) for production-like kinds,
    Standard otherwise."""
    postgres_sku: str | None = None
    """PostgreSQL flexible server SKU. Default: GP_Standard_D2ds_v5 for production-like kinds (zone-redundant
    HA needs General Purpose or Memory Optimized), B_Standard_B2s otherwise."""
    postgres_version: str = "16"
    """PostgreSQL major version."""
    postgres_storage_mb: int = 32768
    """Initial storage in MB (32768-33553408); storage grows automatically."""
    postgres_backup_retention_days: int | None = None
    """Backup retention (7-35 days). Default: 35 for production-like kinds, 7 otherwise."""
    postgres_high_availability: bool | None = None
    """Zone-redundant high availability (standby in another zone). Default: on for production-like kinds."""
    postgres_geo_redundant_backup: bool | None = None
    """Geo-redundant backups (restorable in the paired region). Default: on for production-like kinds."""
    dns_parent_subscription: str = "management"
    """Alias (config/platform.toml [subscriptions]) of the subscription holding the parent DNS zone, where the
    NS delegation of ``<dns_label>.<company domain>`` is written."""
    purge_protection: bool | None = None
    """Key Vault purge protection. Default: on for every kind but dev (dev is torn down and rebuilt freely;
    a purge-protected vault would block re-creating it under the same name for the retention period)."""
    deploy_product: bool = True
    """Deploy the company's own services (api, web, worker)."""
    release_from: str | None = None
    """Enterprise only: the production environment whose component versions this one follows, unless it pins
    its own (see versions/)."""
    kubeconfig_context: str | None = None
    """External only: the kubeconfig context of the existing cluster. Required for kind external."""
    container_registry_login_server: str | None = None
    """Host of the registry the company's charts (``oci://<host>/helm``) and images come from, e.g.
    ``registry.lab.example:5000``. Default: the environment's own ACR. Required for kind external when it deploys
    the product or integrations (an existing cluster has no ACR here; name the registry it pulls from)."""
    tls_issuer: TlsIssuer = "letsencrypt"
    """The cert-manager ClusterIssuer that signs the services' and integrations' Ingress certificates, when the
    environment's release runs the ``cluster-issuers`` component: ``letsencrypt`` (browser-trusted) or
    ``letsencrypt-staging`` (untrusted test certificates with generous rate limits, for trying out issuance)."""
    platform_resources: PlatformResources = DEFAULT_PLATFORM_RESOURCES
    """Requests and memory limits of every platform container (ingress-nginx controller and admission Jobs,
    cert-manager controller, webhook, cainjector and startupapicheck, external-dns). Default:
    :data:`DEFAULT_PLATFORM_RESOURCES` (sized for a small cluster); override single containers with
    ``dataclasses.replace(DEFAULT_PLATFORM_RESOURCES, ingress_controller=ContainerResources(...))``."""
    ingress_service_type: IngressServiceType | None = None
    """How the ingress controller's Service is exposed: ``LoadBalancer`` or ``NodePort``. Default:
    ``LoadBalancer`` on AKS (the Azure load balancer; the only value allowed there, the nodes have no public
    address); ``NodePort`` for kind external — an existing cluster need not have a load-balancer
    implementation, and a LoadBalancer Service without one never becomes ready (the release would roll back).
    Set ``LoadBalancer`` for an external cluster that has one (e.g. MetalLB)."""
    integrations: tuple[IntegrationSpec, ...] = ()
    """Customer-specific integration services, each a typed spec from
    :mod:`building_blocks.kubernetes.integration_specs` (e.g. ``SsoBridge(...)``). Default: none. Their chart
    versions come from the environment's release file like every other component's."""
    extra_tags: Mapping[str, str] = field(default_factory=dict)
    """Tags added to the standard set on every Azure resource of this environment."""
    secret_rotation: Mapping[str, int] = field(default_factory=dict)
    """Generated secret name → rotation number; raising a number regenerates exactly that secret."""
    source: str = field(default_factory=LOADING_FILE.get)
    """The file that defined this environment (set while the registry loads it, for error messages)."""

    def __post_init__(self) -> None:
        where = f"environment {self.name!r} ({self.source})"
        _check_type(where, self)
        if not _NAME.fullmatch(self.name) or len(self.name) > NAME_MAX_LENGTH:
            raise _fail(where, "name", self.name, f"1-{NAME_MAX_LENGTH} lowercase letters, digits and single "
                        "hyphens, starting with a letter")
        if self.name == "bootstrap":
            raise _fail(where, "name", self.name, "any name but 'bootstrap' (reserved for the state stack)")
        if self.kind not in ENVIRONMENT_KINDS:
            raise _fail(where, "kind", self.kind, ", ".join(ENVIRONMENT_KINDS))
        short = self.short_name if self.short_name is not None else self.name.replace("-", "")
        if not _SHORT_NAME.fullmatch(short):
            raise _fail(where, "short_name", short, "2-8 lowercase letters and digits, starting with a letter "
                        "(set short_name when the name without hyphens is longer)")
        object.__setattr__(self, "short_name", short)
        if self.location not in REGION_CODES:
            raise _fail(where, "location", self.location, ", ".join(REGION_CODES))
        self._validate_network(where)
        dns_label = self.dns_label if self.dns_label is not None else self.name
        if not is_dns_label(dns_label):
            raise _fail(where, "dns_label", dns_label, f"one DNS label: {DNS_LABEL_RULE} (default: the name)")
        object.__setattr__(self, "dns_label", dns_label)
        for pool_field in ("system_pool", "user_pool"):
            pool = getattr(self, pool_field)
            if not isinstance(pool, NodePoolSettings):
                raise _fail(where, pool_field, pool, "a NodePoolSettings(...)")
            pool.validate(f"{where} {pool_field}")
        production_like = self.kind in PRODUCTION_LIKE
        tier = self.aks_sku_tier if self.aks_sku_tier is not None else ("Standard" if production_like else "Free")
        if tier not in SKU_TIERS:
            raise _fail(where, "aks_sku_tier", tier, ", ".join(SKU_TIERS))
        if production_like and tier == "Free":
            raise _fail(where, "aks_sku_tier", tier, "Standard or Premium for kind " + self.kind)
        object.__setattr__(self, "aks_sku_tier", tier)
        zones = self.availability_zones if self.availability_zones is not None else (
            ("1", "2", "3") if production_like else ())
        if not all(z in ("1", "2", "3") for z in zones) or len(set(zones)) < len(zones):
            raise _fail(where, "availability_zones", zones, "a tuple of distinct zones among '1', '2', '3'")
        object.__setattr__(self, "availability_zones", zones)
        for cidr in self.api_server_authorized_ip_ranges:
            try:
                ipaddress.ip_network(cidr)
            except ValueError:
                raise _fail(where, "api_server_authorized_ip_ranges", cidr, "IPv4/IPv6 CIDRs") from None
        if production_like and not (self.private_cluster or self.api_server_authorized_ip_ranges):
            raise _fail(where, "api_server_authorized_ip_ranges", self.api_server_authorized_ip_ranges,
                        f"at least one CIDR, or private_cluster=True, for kind {self.kind}")
        protect = self.purge_protection if self.purge_protection is not None else self.kind != "dev"
        if production_like and not protect:
            raise _fail(where, "purge_protection", protect, f"True for kind {self.kind}")
        object.__setattr__(self, "purge_protection", protect)
        self._derive_azure_services(where, production_like)
        if self.release_from is not None and self.kind != "enterprise":
            raise _fail(where, "release_from", self.release_from, "None unless kind is enterprise")
        if self.kind == "external":
            if not self.kubeconfig_context:
                raise _fail(where, "kubeconfig_context", self.kubeconfig_context,
                            "the name of a kubeconfig context (required for kind external)")
        elif self.kubeconfig_context is not None:
            raise _fail(where, "kubeconfig_context", self.kubeconfig_context, "None unless kind is external")
        self._validate_kubernetes_layer(where)
        for key, value in self.extra_tags.items():
            if not (isinstance(key, str) and _TAG_KEY.fullmatch(key)) or not isinstance(value, str) or len(value) > 256:
                raise _fail(where, "extra_tags", {key: value}, "string keys (letter first, ≤ 128) and string "
                            "values (≤ 256)")
        for secret, number in self.secret_rotation.items():
            if secret not in SECRET_NAMES:
                raise _fail(where, "secret_rotation", secret,
                            "names of generated secrets: " + ", ".join(SECRET_NAMES))
            if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                raise _fail(where, f"secret_rotation[{secret!r}]", number, "a non-negative integer")

    def _validate_kubernetes_layer(self, where: str) -> None:
        """Inputs of the Kubernetes layer: the chart/image registry, the TLS issuer, the platform charts'
        resources and ingress Service type, and the integration specs."""
        if self.tls_issuer not in TLS_ISSUERS:
            raise _fail(where, "tls_issuer", self.tls_issuer, ", ".join(TLS_ISSUERS))
        if not isinstance(self.platform_resources, PlatformResources):
            raise _fail(where, "platform_resources", self.platform_resources, "a PlatformResources(...), e.g. "
                        "dataclasses.replace(DEFAULT_PLATFORM_RESOURCES, ingress_controller=ContainerResources(...))")
        service_type = self.ingress_service_type if self.ingress_service_type is not None else (
            "LoadBalancer" if self.has_azure_cluster else "NodePort")
        if service_type not in INGRESS_SERVICE_TYPES:
            raise _fail(where, "ingress_service_type", service_type, ", ".join(INGRESS_SERVICE_TYPES))
        if self.has_azure_cluster and service_type != "LoadBalancer":
            raise _fail(where, "ingress_service_type", service_type, f"LoadBalancer for kind {self.kind} (AKS: the "
                        "Azure load balancer is the way in; the nodes have no public address)")
        object.__setattr__(self, "ingress_service_type", service_type)
        registry = self.container_registry_login_server
        if registry is not None and (not isinstance(registry, str) or not _REGISTRY_HOST.fullmatch(registry)):
            raise _fail(where, "container_registry_login_server", registry, "a registry host such as "
                        "'registry.lab.example' or 'registry.lab.example:5000' (no scheme, no path)")
        if self.kind == "external" and registry is None and (self.deploy_product or self.integrations):
            raise _fail(where, "container_registry_login_server", None, "the registry host the existing "
                        "cluster pulls the company's charts and images from (required for kind external with "
                        "deploy_product or integrations)")
        if not isinstance(self.integrations, tuple) or not all(
                isinstance(spec, IntegrationSpec) for spec in self.integrations):
            raise _fail(where, "integrations", self.integrations, "a tuple of integration specs such as "
                        "(SsoBridge(...),)")
        components = [spec.component for spec in self.integrations]
        duplicates = sorted({c for c in components if components.count(c) > 1})
        if duplicates:
            raise _fail(where, "integrations", duplicates, "each integration at most once")

    def _validate_network(self, where: str) -> None:
        if self.kind == "external":
            if self.address_space is not None:
                raise _fail(where, "address_space", self.address_space, "None for kind external (no network)")
            return
        if self.address_space is None:
            raise _fail(where, "address_space", None, "an IPv4 CIDR from /16 to /22 (required)")
        try:
            network = ipaddress.IPv4Network(self.address_space)
        except ValueError:
            raise _fail(where, "address_space", self.address_space, "an IPv4 CIDR such as '10.10.0.0/16' with "
                        "no host bits set") from None
        if not 16 <= network.prefixlen <= 22 or not network.is_private:
            raise _fail(where, "address_space", self.address_space, "a private IPv4 range from /16 to /22")

    def _derive_azure_services(self, where: str, production_like: bool) -> None:
        """Defaults and rules of the Azure building blocks (network ranges, maintenance, registry, PostgreSQL,
        Key Vault firewall)."""
        authorized = self.api_server_authorized_ip_ranges
        ranges = self.pipeline_ip_ranges if self.pipeline_ip_ranges is not None else tuple(
            r for r in authorized if ipaddress.ip_network(r, strict=False).version == 4)
        if not isinstance(ranges, tuple):
            raise _fail(where, "pipeline_ip_ranges", ranges, "a tuple of IPv4 addresses or CIDRs")
        # Named in messages: the field the user wrote (the ranges default to the API server's IPv4 ones).
        written = "pipeline_ip_ranges" if self.pipeline_ip_ranges is not None else "api_server_authorized_ip_ranges"
        seen: dict[ipaddress.IPv4Network, str] = {}
        for cidr in ranges:
            try:
                network = ipaddress.IPv4Network(cidr)
            except ValueError:
                raise _fail(where, written, cidr, "IPv4 addresses or CIDRs with no host bits set") from None
            # Key Vault network rules take single addresses or prefixes up to /30, not /31 (see
            # building_blocks/key_vault.py, which refuses it too, but only at construct time).
            if network.prefixlen == 31:
                raise _fail(where, written, cidr, "a prefix up to /30, or a single address (Key Vault, which "
                            "lets these ranges through its firewall, rejects /31)")
            if network in seen:
                raise _fail(where, written, cidr, f"each range once ({seen[network]!r} is the same range)")
            seen[network] = cidr
        object.__setattr__(self, "pipeline_ip_ranges", ranges)
        cluster_ranges: dict[str, ipaddress.IPv4Network] = {}
        for name in ("pod_cidr", "service_cidr"):
            try:
                cluster_ranges[name] = ipaddress.IPv4Network(getattr(self, name))
            except ValueError:
                allowed = "a private IPv4 CIDR with no host bits set"
                raise _fail(where, name, getattr(self, name), allowed) from None
            if not cluster_ranges[name].is_private or cluster_ranges[name].prefixlen > 24:
                raise _fail(where, name, getattr(self, name), "a private IPv4 range of /24 or larger")
        if cluster_ranges["pod_cidr"].overlaps(cluster_ranges["service_cidr"]):
            raise _fail(where, "service_cidr", self.service_cidr, f"a range that does not overlap pod_cidr "
                        f"{self.pod_cidr!r}")
        if self.address_space is not None:
            vnet = ipaddress.IPv4Network(self.address_space)
            for name, network in cluster_ranges.items():
                if network.overlaps(vnet):
                    allowed = f"a range that does not overlap address_space {self.address_space!r}"
                    raise _fail(where, name, getattr(self, name), allowed)
        for object_id in self.cluster_admin_group_object_ids:
            if not _GUID.fullmatch(str(object_id)):
                raise _fail(where, "cluster_admin_group_object_ids", object_id, "Entra ID object ids (GUIDs)")
        if self.aks_upgrade_channel not in ("patch", "stable", "rapid"):
            raise _fail(where, "aks_upgrade_channel", self.aks_upgrade_channel, "patch, stable, rapid")
        day = self.maintenance_day if self.maintenance_day is not None else (
            "Sunday" if production_like else "Tuesday")
        if day not in WEEKDAYS:
            raise _fail(where, "maintenance_day", day, ", ".join(WEEKDAYS))
        object.__setattr__(self, "maintenance_day", day)
        if not 0 <= self.maintenance_start_hour <= 23:
            raise _fail(where, "maintenance_start_hour", self.maintenance_start_hour,
                        "an hour from 0 to 23 (UTC)")
        retention = self.log_retention_days if self.log_retention_days is not None else (
            90 if production_like else 30)
        if isinstance(retention, bool) or not isinstance(retention, int) or not 30 <= retention <= 730:
            raise _fail(where, "log_retention_days", retention, "an integer from 30 to 730")
        object.__setattr__(self, "log_retention_days", retention)
        registry_sku = self.container_registry_sku if self.container_registry_sku is not None else (
            "Premium" if production_like else "Standard")
        if registry_sku not in ("Basic", "Standard", "Premium"):
            raise _fail(where, "container_registry_sku", registry_sku, "Basic, Standard, Premium")
        object.__setattr__(self, "container_registry_sku", registry_sku)
        self._derive_postgres(where, production_like)

    def _derive_postgres(self, where: str, production_like: bool) -> None:
        sku = self.postgres_sku if self.postgres_sku is not None else (
            "GP_Standard_D2ds_v5" if production_like else "B_Standard_B2s")
        if not isinstance(sku, str) or not _POSTGRES_SKU.fullmatch(sku):
            raise _fail(where, "postgres_sku", sku, "a flexible server SKU such as 'B_Standard_B2s', "
                        "'GP_Standard_D2ds_v5' or 'MO_Standard_E4ds_v5'")
        object.__setattr__(self, "postgres_sku", sku)
        if self.postgres_version not in POSTGRES_VERSIONS:
            raise _fail(where, "postgres_version", self.postgres_version, ", ".join(POSTGRES_VERSIONS))
        if not 32768 <= self.postgres_storage_mb <= 33553408:
            raise _fail(where, "postgres_storage_mb", self.postgres_storage_mb, "32768 to 33553408")
        retention = self.postgres_backup_retention_days
        retention = retention if retention is not None else (35 if production_like else 7)
        if isinstance(retention, bool) or not isinstance(retention, int) or not 7 <= retention <= 35:
            raise _fail(where, "postgres_backup_retention_days", retention, "an integer from 7 to 35")
        object.__setattr__(self, "postgres_backup_retention_days", retention)
        for name in ("postgres_high_availability", "postgres_geo_redundant_backup"):
            value = getattr(self, name)
            value = production_like if value is None else value
            if not isinstance(value, bool):
                raise _fail(where, name, value, "True or False")
            object.__setattr__(self, name, value)
        if self.postgres_high_availability:
            if sku.startswith("B_"):
                raise _fail(where, "postgres_sku", sku, "a General Purpose (GP_) or Memory Optimized (MO_) "
                            "SKU when postgres_high_availability is on (Burstable has no HA)")
            if len(self.availability_zones or ()) < 2:
                raise _fail(where, "postgres_high_availability", True, "False unless availability_zones "
                            "names at least two zones (the standby goes to another zone)")

    @property
    def production_like(self) -> bool:
        """True for kinds that serve customers (production, enterprise)."""
        return self.kind in PRODUCTION_LIKE

    @property
    def has_azure_cluster(self) -> bool:
        """False for external environments, which deploy onto an existing cluster: they get no cluster,
        network, DNS zone or database, only a resource group, the Key Vault that backs up their generated
        secrets and the Log Analytics workspace that keeps its audit log."""
        return self.kind != "external"


@dataclass(frozen=True, kw_only=True)
class BootstrapSettings:
    """The one-time ``bootstrap`` stack that creates the Terraform state storage (local backend by design)."""

    name: str = "bootstrap"
    """Always ``bootstrap``."""
    soft_delete_retention_days: int = 30
    """Blob and container soft-delete retention (7-365 days)."""
    replication_type: Literal["LRS", "ZRS", "GRS", "RAGRS", "GZRS", "RAGZRS"] = "RAGZRS"
    """State storage redundancy. Default: geo-zone-redundant with read access, state survives a region loss."""
    allowed_ip_ranges: tuple[str, ...] = ()
    """Public IPs allowed through the storage firewall besides trusted Azure services and the deploy agent
    pool (whose egress and subnets the stack adds from config/platform.toml [pipelines]): operators'
    egress."""
    log_retention_days: int = 90
    """How long the state account's blob access log (every read, write and delete of a state blob) is kept in
    the bootstrap's Log Analytics workspace (30-730 days)."""
    source: str = field(default_factory=LOADING_FILE.get)
    """The file that defined this environment."""

    def __post_init__(self) -> None:
        where = f"environment {self.name!r} ({self.source})"
        if self.name != "bootstrap":
            raise _fail(where, "name", self.name, "'bootstrap'")
        _check_type(where, self)
        if not 7 <= self.soft_delete_retention_days <= 365:
            raise _fail(where, "soft_delete_retention_days", self.soft_delete_retention_days, "7 to 365")
        allowed = ("LRS", "ZRS", "GRS", "RAGRS", "GZRS", "RAGZRS")
        if self.replication_type not in allowed:
            raise _fail(where, "replication_type", self.replication_type, ", ".join(allowed))
        if not 30 <= self.log_retention_days <= 730:
            raise _fail(where, "log_retention_days", self.log_retention_days, "30 to 730")
        seen: set[ipaddress.IPv4Network] = set()
        for cidr in self.allowed_ip_ranges:
            try:
                network = ipaddress.IPv4Network(cidr)
            except ValueError:
                raise _fail(where, "allowed_ip_ranges", cidr, "public IPv4 addresses or CIDRs") from None
            # The storage account firewall (azurerm v4.55.0 website/docs/r/storage_account.html.markdown,
            # network_rules.ip_rules): "/31 CIDRs, /32 CIDRs, and Private IP address ranges (as defined in RFC
            # 1918), are not allowed" -- Azure refuses them only at apply time.
            if "/" in cidr and network.prefixlen > 30:
                raise _fail(where, "allowed_ip_ranges", cidr, "a prefix up to /30, or a single address "
                            f"written without one ({str(network.network_address)!r}); the storage firewall "
                            "rejects /31 and /32")
            if any(network.subnet_of(private) for private in _RFC1918):
                raise _fail(where, "allowed_ip_ranges", cidr, "public addresses (the storage firewall rejects "
                            "RFC 1918 ranges; private access goes through private endpoints)")
            if network in seen:
                raise _fail(where, "allowed_ip_ranges", cidr, "each range once")
            seen.add(network)


