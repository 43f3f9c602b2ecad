"""Third-party platform charts every cluster runs: ingress controller, cert-manager, external-dns.

Each block creates its own namespace and one :class:`HelmChart`; chart, repository and version come in as a
:class:`ChartVersion` from the stack (the environment's release), values are built here as typed Python data.
Nothing here knows about AKS: cloud specifics (load balancer annotations, the DNS provider's identity) are
props the stack fills in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import cdktf
from cdktf_cdktf_provider_kubernetes.config_map_v1 import ConfigMapV1, ConfigMapV1Metadata
from constructs import Construct

from building_blocks.kubernetes.connection import is_reference
from building_blocks.kubernetes.helm_chart import ChartVersion, HelmChart
from building_blocks.kubernetes.namespace import Namespace, PodSecurityLevel
from building_blocks.kubernetes.platform_options import (
    INGRESS_SERVICE_TYPES,
    IngressServiceType,
    PlatformResources,
)

_FQDN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
WORKLOAD_IDENTITY_USE = {"azure.workload.identity/use": "true"}


def _check_chart(owner: str, chart: object) -> ChartVersion:
    if not isinstance(chart, ChartVersion):
        raise ValueError(f"{owner} chart = {chart!r}; allowed: a ChartVersion from the environment's release")
    return chart


def _check_replicas(owner: str, replicas: object) -> int:
    if not isinstance(replicas, int) or isinstance(replicas, bool) or not 1 <= replicas <= 10:
        raise ValueError(f"{owner} replicas = {replicas!r}; allowed: an integer from 1 to 10")
    return replicas


def _check_resources(owner: str, resources: object) -> PlatformResources:
    if not isinstance(resources, PlatformResources):
        raise ValueError(
            f"{owner} resources = {resources!r}; allowed: a PlatformResources (the environment's "
            "platform_resources setting)"
        )
    return resources


def _zone_spread(selector: Mapping[str, str]) -> list[dict[str, Any]]:
    """Spread replicas over availability zones where there are zones; schedule anyway where there are none."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(selector)},
        }
    ]


class IngressNginx(Construct):
    """The ingress-nginx controller, the cluster's default IngressClass ``nginx``.

    Hardening: snippet annotations off (the IngressNightmare class of bugs), server tokens hidden, TLS 1.2+,
    client IPs preserved (``externalTrafficPolicy: Local``), admission webhook on, metrics on; with more than
    one replica a PodDisruptionBudget (``minAvailable: 1``) and zone spreading. Requests and a memory limit for
    the controller and the admission webhook's certificate Jobs (``resources``); the Service type is a prop
    (``LoadBalancer``, or ``NodePort`` where the cluster has no load-balancer implementation).

    Note: the Kubernetes project announced the retirement of ingress-nginx (best-effort maintenance until
    March 2026); this block is the one place to swap for another controller.

    Exposes ``namespace``, ``chart`` (the :class:`HelmChart`), ``ingress_class`` and ``service_type``.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        chart: ChartVersion,
        resources: PlatformResources,
        namespace: str = "ingress-nginx",
        replicas: int = 2,
        service_type: IngressServiceType = "LoadBalancer",
        service_annotations: Mapping[str, str] | None = None,
        external_traffic_policy: Literal["Local", "Cluster"] = "Local",
        ingress_class: str = "nginx",
        depends_on: Sequence[cdktf.ITerraformDependable] = (),
    ) -> None:
        """Required: ``chart`` (ingress-nginx from https://kubernetes.github.io/ingress-nginx),
        ``resources`` (its ``ingress_controller`` and ``ingress_admission_jobs`` are used).
        ``namespace`` (default ``ingress-nginx``). ``replicas`` (default 2, 1-10). ``service_type`` (default
        ``LoadBalancer``, the chart's; or ``NodePort``) of the controller's Service. ``service_annotations``
        (default none): on the controller's Service, e.g. the Azure health-probe path on AKS.
        ``external_traffic_policy`` (default ``Local``: keeps client IPs; only nodes running a controller pod
        answer). ``ingress_class`` (default ``nginx``).
        ``depends_on`` (default none): what the namespace, and so everything here, waits for."""
        super().__init__(scope, id_)
        owner = "IngressNginx"
        chart = _check_chart(owner, chart)
        resources = _check_resources(owner, resources)
        replicas = _check_replicas(owner, replicas)
        if service_type not in INGRESS_SERVICE_TYPES:
            raise ValueError(
                f"{owner} service_type = {service_type!r}; allowed: {', '.join(INGRESS_SERVICE_TYPES)}"
            )
        if external_traffic_policy not in ("Local", "Cluster"):
            raise ValueError(
                f"{owner} external_traffic_policy = {external_traffic_policy!r}; allowed: Local, Cluster"
            )
        annotations = dict(service_annotations or {})
        for key, value in annotations.items():
            if not isinstance(key, str) or not key or not isinstance(value, str):
                raise ValueError(
                    f"{owner} service_annotations {key!r} = {value!r}; allowed: string keys and values"
                )
        self.ingress_class = ingress_class
        self.service_type = service_type
        release_name = "ingress-nginx"
        controller: dict[str, Any] = {
            "replicaCount": replicas,
            "ingressClassResource": {"name": ingress_class, "enabled": True, "default": True},
            "watchIngressWithoutClass": False,
            "allowSnippetAnnotations": False,
            "config": {
                "allow-snippet-annotations": "false",
                "server-tokens": "false",
                "ssl-protocols": "TLSv1.2 TLSv1.3",
                "use-forwarded-headers": "false",
            },
            "admissionWebhooks": {
                "enabled": True,
                # The Helm-hook Jobs that create and patch the webhook's certificate.
                "createSecretJob": {"resources": resources.ingress_admission_jobs.values()},
                "patchWebhookJob": {"resources": resources.ingress_admission_jobs.values()},
            },
            "metrics": {"enabled": True},
            "service": {
                "type": service_type,
                "externalTrafficPolicy": external_traffic_policy,
                "annotations": annotations,
            },
            "resources": resources.ingress_controller.values(),
        }
        if replicas > 1:
            controller["minAvailable"] = 1  # the chart's PodDisruptionBudget
            controller["topologySpreadConstraints"] = _zone_spread(
                {
                    "app.kubernetes.io/name": "ingress-nginx",
                    "app.kubernetes.io/instance": release_name,
                    "app.kubernetes.io/component": "controller",
                }
            )
        self.namespace = Namespace(self, "namespace", name=namespace, depends_on=depends_on)
        self.chart = HelmChart(
            self,
            "Resource",
            release_name=release_name,
            chart=chart.chart,
            repository=chart.repository,
            version=chart.version,
            namespace=self.namespace,
            values={"controller": controller, "defaultBackend": {"enabled": False}},
        )


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.lstrip("v").split("-")[0].split("+")[0].split("."))


class CertManager(Construct):
    """cert-manager with its CRDs managed by the chart (``crds.enabled``, kept on uninstall so certificates
    are not wiped with it; ``installCRDs`` for charts before v1.15).

    Leader election stays in its own namespace (no Role in ``kube-system``); Prometheus metrics on; with more
    than one replica, PodDisruptionBudgets for controller, webhook and cainjector; requests and a memory limit
    for controller, webhook, cainjector and the startupapicheck Job (``resources``).
    ``workload_identity_client_id`` (optional) labels the service account for Azure workload identity (DNS-01
    challenges against Azure DNS).

    Exposes ``namespace`` and ``chart``. Issuers are cluster objects made from cert-manager's CRDs and belong
    in a release of their own (``kubernetes_manifest`` needs the CRDs at plan time): see
    :class:`building_blocks.kubernetes.cluster_issuers.ClusterIssuers`.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        chart: ChartVersion,
        resources: PlatformResources,
        namespace: str = "cert-manager",
        replicas: int = 2,
        workload_identity_client_id: str | None = None,
        depends_on: Sequence[cdktf.ITerraformDependable] = (),
    ) -> None:
        """Required: ``chart`` (cert-manager from https://charts.jetstack.io), ``resources`` (its
        ``cert_manager_*`` entries: controller, webhook, cainjector, startupapicheck). ``namespace`` (default
        ``cert-manager``). ``replicas`` (default 2, 1-10) for controller, webhook and cainjector.
        ``workload_identity_client_id`` (default none: no cloud identity): a client id or reference to one.
        ``depends_on`` (default none): what the namespace, and so everything here, waits for."""
        super().__init__(scope, id_)
        owner = "CertManager"
        chart = _check_chart(owner, chart)
        resources = _check_resources(owner, resources)
        replicas = _check_replicas(owner, replicas)
        _check_client_id(owner, workload_identity_client_id)
        self.namespace = Namespace(self, "namespace", name=namespace, depends_on=depends_on)
        pdb = {"enabled": replicas > 1, "minAvailable": 1}
        values: dict[str, Any] = {
            "replicaCount": replicas,
            "podDisruptionBudget": pdb,
            "resources": resources.cert_manager_controller.values(),
            "webhook": {
                "replicaCount": replicas,
                "podDisruptionBudget": pdb,
                "resources": resources.cert_manager_webhook.values(),
            },
            "cainjector": {
                "replicaCount": replicas,
                "podDisruptionBudget": pdb,
                "resources": resources.cert_manager_cainjector.values(),
            },
            # The post-install Job that waits until the webhook answers (the release waits for it).
            "startupapicheck": {"resources": resources.cert_manager_startupapicheck.values()},
            "global": {"leaderElection": {"namespace": namespace}},
            "prometheus": {"enabled": True},
        }
        if _version_tuple(chart.version) >= (1, 15, 0):
            values["crds"] = {"enabled": True, "keep": True}
        else:
            values["installCRDs"] = True
        if workload_identity_client_id is not None:
            values["serviceAccount"] = {
                "labels": dict(WORKLOAD_IDENTITY_USE),
                "annotations": {"azure.workload.identity/client-id": workload_identity_client_id},
            }
            values["podLabels"] = dict(WORKLOAD_IDENTITY_USE)
        self.chart = HelmChart(
            self,
            "Resource",
            release_name="cert-manager",
            chart=chart.chart,
            repository=chart.repository,
            version=chart.version,
            namespace=self.namespace,
            values=values,
        )


def _check_client_id(owner: str, client_id: object) -> None:
    if client_id is None:
        return
    if not isinstance(client_id, str) or not (is_reference(client_id) or _GUID.match(client_id)):
        raise ValueError(
            f"{owner} workload_identity_client_id = {client_id!r}; allowed: a lowercase GUID or a "
            "reference to a managed identity's client id"
        )


@dataclass(frozen=True, kw_only=True)
class AzureDnsProvider:
    """external-dns against Azure DNS with workload identity (no client secret anywhere).

    The four ids are required; each may be a literal or a Terraform reference. The managed identity needs
    ``DNS Zone Contributor`` on the zone, ``Reader`` on ``resource_group`` (external-dns lists the zones of that
    group: kubernetes-sigs/external-dns docs/tutorials/azure.md, "Assign a role to the managed identity";
    provider/azure/azure.go, ``NewListByResourceGroupPager``) and a federated credential for
    :func:`ExternalDns.service_account_subject`."""

    tenant_id: str
    subscription_id: str
    resource_group: str
    """The resource group of the DNS zone."""
    client_id: str
    """The managed identity's client id."""
    depends_on: tuple[cdktf.ITerraformDependable, ...] = ()
    """What the release waits for on the cloud side (default none): the stack passes the federated credential
    and what makes the identity's roles effective. Opaque to this layer: it only orders the release after them,
    so external-dns does not start, fail to list zones, crash-loop and roll back the atomic release."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "depends_on", tuple(self.depends_on))

    def azure_json(self) -> dict[str, Any]:
        """The ``azure.json`` external-dns reads: ids only, no credential."""
        return {
            "tenantId": self.tenant_id,
            "subscriptionId": self.subscription_id,
            "resourceGroup": self.resource_group,
            "useWorkloadIdentityExtension": True,
        }


ExternalDnsPolicy = Literal["sync", "upsert-only"]
EXTERNAL_DNS_POLICIES: tuple[str, ...] = get_args(ExternalDnsPolicy)
EXTERNAL_DNS_SERVICE_ACCOUNT = "external-dns"


class ExternalDns(Construct):
    """external-dns publishing Ingress and Service hosts into the environment's own DNS zone.

    TXT ownership records (``txt_owner_id``) mark what it created, so with the default policy ``sync`` it
    deletes only its own stale records, never the zone's NS or records made by Terraform. Limited to
    ``domain_filters``. The Azure provider reads ``/etc/kubernetes/azure.json`` from a config map this block
    creates (ids only — with workload identity there is no credential to keep secret).

    Exposes ``namespace``, ``chart`` and ``azure_config`` (the config map).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        chart: ChartVersion,
        domain_filters: Sequence[str],
        txt_owner_id: str,
        azure: AzureDnsProvider,
        resources: PlatformResources,
        namespace: str = "external-dns",
        policy: ExternalDnsPolicy = "sync",
        pod_security: PodSecurityLevel = "restricted",
        depends_on: Sequence[cdktf.ITerraformDependable] = (),
    ) -> None:
        """Required: ``chart`` (external-dns from https://kubernetes-sigs.github.io/external-dns/),
        ``domain_filters`` (the zones it may touch, at least one), ``txt_owner_id`` (usually the environment
        name), ``azure`` (the DNS provider), ``resources`` (its ``external_dns`` entry). ``namespace`` (default
        ``external-dns``). ``policy`` (default
        ``sync``: the zone is dedicated to the environment; ``upsert-only`` never deletes). ``pod_security``
        (default ``restricted``: the chart runs non-root, read-only, without capabilities). ``depends_on``
        (default none): what the namespace, and so everything here, waits for."""
        super().__init__(scope, id_)
        owner = "ExternalDns"
        chart = _check_chart(owner, chart)
        resources = _check_resources(owner, resources)
        filters = [domain_filters] if isinstance(domain_filters, str) else list(domain_filters)
        if not filters or not all(
            isinstance(d, str) and (is_reference(d) or _FQDN.match(d)) for d in filters
        ):
            raise ValueError(
                f"{owner} domain_filters = {domain_filters!r}; allowed: one or more lowercase DNS zone names"
            )
        if not isinstance(txt_owner_id, str) or not re.match(r"^[a-z0-9][-a-z0-9]{0,62}$", txt_owner_id):
            raise ValueError(
                f"{owner} txt_owner_id = {txt_owner_id!r}; allowed: 1-63 lowercase letters, digits and '-'"
            )
        if policy not in EXTERNAL_DNS_POLICIES:
            raise ValueError(f"{owner} policy = {policy!r}; allowed: {', '.join(EXTERNAL_DNS_POLICIES)}")
        if not isinstance(azure, AzureDnsProvider):
            raise ValueError(f"{owner} azure = {azure!r}; allowed: an AzureDnsProvider")
        _check_client_id(owner, azure.client_id)
        self.namespace = Namespace(
            self, "namespace", name=namespace, pod_security=pod_security, depends_on=depends_on
        )
        config_name = "external-dns-azure"
        self.azure_config = ConfigMapV1(
            self,
            "azure_config",
            metadata=ConfigMapV1Metadata(
                name=config_name,
                namespace=self.namespace.name,
                labels={"app.kubernetes.io/managed-by": "terraform"},
            ),
            data={"azure.json": json.dumps(azure.azure_json(), sort_keys=True)},
        )
        values = {
            "provider": {"name": "azure"},
            "sources": ["service", "ingress"],
            "domainFilters": filters,
            "policy": policy,
            "registry": "txt",
            "txtOwnerId": txt_owner_id,
            "interval": "1m",
            "serviceAccount": {
                "create": True,
                "name": EXTERNAL_DNS_SERVICE_ACCOUNT,
                "labels": dict(WORKLOAD_IDENTITY_USE),
                "annotations": {"azure.workload.identity/client-id": azure.client_id},
            },
            "podLabels": dict(WORKLOAD_IDENTITY_USE),
            "resources": resources.external_dns.values(),
            "extraVolumes": [{"name": "azure-config-file", "configMap": {"name": config_name}}],
            "extraVolumeMounts": [
                {"name": "azure-config-file", "mountPath": "/etc/kubernetes", "readOnly": True}
            ],
        }
        self.chart = HelmChart(
            self,
            "Resource",
            release_name="external-dns",
            chart=chart.chart,
            repository=chart.repository,
            version=chart.version,
            namespace=self.namespace,
            values=values,
            # The identity's federated credential and roles first (AzureDnsProvider.depends_on).
            depends_on=[self.azure_config, *azure.depends_on],
        )

    @staticmethod
    def service_account_subject(namespace: str = "external-dns") -> str:
        """The federated credential subject for external-dns's service account in ``namespace``."""
        return f"system:serviceaccount:{namespace}:{EXTERNAL_DNS_SERVICE_ACCOUNT}"
