"""The whole Kubernetes layer of one environment, composed from a cluster connection and plain data.

The stack builds a :class:`ClusterConnection` (from the AKS endpoint, or a kubeconfig context), reads the
environment's release into :class:`ChartVersion` records and hands both in with the environment's facts. This
construct knows nothing about Azure resources, so it deploys onto any conformant cluster — the ``onprem``
environment proves it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cdktf
from constructs import Construct

from building_blocks.kubernetes.cluster_issuers import ISSUER_NAMES, LETSENCRYPT, ClusterIssuers
from building_blocks.kubernetes.connection import ClusterConnection
from building_blocks.kubernetes.helm_chart import ChartVersion
from building_blocks.kubernetes.integration_specs import IntegrationSpec
from building_blocks.kubernetes.integrations import IntegrationServices
from building_blocks.kubernetes.network_policy import NetworkPolicies
from building_blocks.kubernetes.platform_charts import (
    AzureDnsProvider,
    CertManager,
    ExternalDns,
    IngressNginx,
)
from building_blocks.kubernetes.platform_options import (
    INGRESS_SERVICE_TYPES,
    IngressServiceType,
    PlatformResources,
)
from building_blocks.kubernetes.product_services import ProductServices, ServiceRelease
from building_blocks.kubernetes.providers import KubernetesProviders

REQUIRED_PLATFORM = ("ingress-nginx", "cert-manager")
OPTIONAL_PLATFORM = ("cluster-issuers", "external-dns")


class KubernetesLayer(Construct):
    """Providers, platform charts (ingress-nginx, cert-manager, external-dns), the company's services and an
    environment's integrations, in dependency order: platform first, then services (whose Ingresses the
    ingress controller's admission webhook validates).

    Every product and integration namespace gets :class:`NetworkPolicies`: default-deny ingress, then ingress
    from the same namespace and from the ingress controller's namespace (egress open).

    With the ``cluster-issuers`` component, :class:`ClusterIssuers` (``letsencrypt``, ``letsencrypt-staging``)
    follow cert-manager, and the services' Ingresses get ``cluster_issuer`` (default ``letsencrypt``).

    Exposes ``providers``, ``ingress``, ``cert_manager``, ``cluster_issuers`` and ``external_dns`` (None when
    not in the release), ``cluster_issuer`` (the issuer the services use, or None),
    ``product`` and ``integrations`` (None when there are none), and ``network_policies`` (namespace name →
    :class:`NetworkPolicies`; empty without services and integrations).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        connection: ClusterConnection,
        environment: str,
        region: str,
        dns_domain: str,
        platform: Mapping[str, ChartVersion],
        resources: PlatformResources,
        services: Mapping[str, ChartVersion] | None = None,
        registry: str | None = None,
        integrations: Sequence[IntegrationSpec] = (),
        integration_versions: Mapping[str, ChartVersion] | None = None,
        external_secrets: Mapping[str, str] | None = None,
        component_versions: Mapping[str, str] | None = None,
        external_dns: AzureDnsProvider | None = None,
        ingress_service_type: IngressServiceType = "LoadBalancer",
        ingress_service_annotations: Mapping[str, str] | None = None,
        replicas: int = 2,
        secrets: Mapping[str, str] | None = None,
        secrets_write_only_revision: int | None = None,
        internal_services: Sequence[str] = ("worker",),
        cluster_issuer: str | None = None,
        acme_email: str | None = None,
        depends_on: Sequence[cdktf.ITerraformDependable] = (),
    ) -> None:
        """Required: ``connection``; ``environment``, ``region``, ``dns_domain`` (the platform-settings facts;
        ``dns_domain`` is also the parent of every service host); ``platform`` (component → ChartVersion: must
        hold ingress-nginx and cert-manager; cluster-issuers only with ``acme_email``; external-dns only with
        ``external_dns``); ``resources`` (requests and memory limits of every platform container — no default
        here: the environment's ``platform_resources`` setting).

        ``services`` (default none: no product): component → ChartVersion of the company's services; needs
        ``registry`` (the registry host the charts and images come from). Each service gets the host
        ``<name>.<dns_domain>`` unless it is in ``internal_services`` (default ``("worker",)``).
        ``integrations`` (default none) with ``integration_versions`` (component → ChartVersion) and
        ``external_secrets`` (default none): the integrations' values from outside, store name →
        reference (see :class:`IntegrationServices`; the layer only sees references, never the store).
        ``component_versions`` (default: every chart handed in, component → version) for platform-settings.
        ``external_dns`` (default none: no external-dns). ``ingress_service_type`` (default ``LoadBalancer``;
        ``NodePort`` for a cluster without a load-balancer implementation — then with
        ``externalTrafficPolicy: Cluster``, so every node's port answers whichever node runs the controller).
        ``ingress_service_annotations`` (default none).
        ``replicas`` (default 2, 1-10) of the platform charts. ``secrets`` / ``secrets_write_only_revision``
        (default none): the global secrets of the product namespaces (references only).
        ``cluster_issuer`` (default: ``letsencrypt`` with the cluster-issuers component, else none — no
        issuer annotation): cert-manager ClusterIssuer for the services' TLS; with cluster-issuers it must be one
        of theirs. ``acme_email`` (default none; required with cluster-issuers): the ACME account email of the
        issuers (ignored without cluster-issuers). ``depends_on``
        (default none): what must exist before the first Kubernetes object — e.g. the node pool the pods can
        run on, the deploying identity's cluster role and the nodes' registry pull role. Opaque to this layer
        (any Terraform object); every namespace waits for it, and every other object here lives in, and so waits
        for, a namespace."""
        super().__init__(scope, id_)
        owner = "KubernetesLayer"
        missing = [name for name in REQUIRED_PLATFORM if name not in platform]
        if missing:
            raise ValueError(
                f"{owner} platform lacks {missing}; allowed: a mapping with "
                f"{', '.join(REQUIRED_PLATFORM)} (and optionally {', '.join(OPTIONAL_PLATFORM)})"
            )
        unknown = sorted(set(platform) - set(REQUIRED_PLATFORM) - set(OPTIONAL_PLATFORM))
        if unknown:
            raise ValueError(
                f"{owner} platform has unknown components {unknown}; allowed: "
                f"{', '.join(REQUIRED_PLATFORM + OPTIONAL_PLATFORM)}"
            )
        if ("external-dns" in platform) != (external_dns is not None):
            raise ValueError(
                f"{owner} external-dns in platform = {'external-dns' in platform} but external_dns = "
                f"{external_dns!r}; allowed: both (a DNS provider to publish to) or neither"
            )
        with_issuers = "cluster-issuers" in platform
        if with_issuers and acme_email is None:
            raise ValueError(
                f"{owner} acme_email = None with cluster-issuers in platform; allowed: the ACME account email"
            )
        if with_issuers:
            cluster_issuer = LETSENCRYPT.name if cluster_issuer is None else cluster_issuer
            if cluster_issuer not in ISSUER_NAMES:
                raise ValueError(
                    f"{owner} cluster_issuer = {cluster_issuer!r}; allowed with cluster-issuers: "
                    f"{', '.join(ISSUER_NAMES)}"
                )
        if not isinstance(resources, PlatformResources):
            raise ValueError(
                f"{owner} resources = {resources!r}; allowed: a PlatformResources (the environment's "
                "platform_resources setting)"
            )
        if ingress_service_type not in INGRESS_SERVICE_TYPES:
            raise ValueError(
                f"{owner} ingress_service_type = {ingress_service_type!r}; allowed: "
                f"{', '.join(INGRESS_SERVICE_TYPES)}"
            )
        services = dict(services or {})
        if services and not registry:
            raise ValueError(
                f"{owner} registry = {registry!r} with services {sorted(services)}; allowed: the "
                "registry host the company's charts and images come from"
            )
        integration_versions = dict(integration_versions or {})
        if component_versions is None:
            component_versions = {
                name: chart.version
                for group in (platform, services, integration_versions)
                for name, chart in group.items()
            }
        self.providers = KubernetesProviders(self, "providers", connection=connection)
        self.ingress = IngressNginx(
            self,
            "ingress_nginx",
            chart=platform["ingress-nginx"],
            resources=resources,
            namespace=platform["ingress-nginx"].namespace or "ingress-nginx",
            replicas=replicas,
            service_type=ingress_service_type,
            # A NodePort must answer on every node (the outside points at the nodes, not at the pods).
            external_traffic_policy="Local" if ingress_service_type == "LoadBalancer" else "Cluster",
            service_annotations=ingress_service_annotations,
            depends_on=depends_on,
        )
        self.cert_manager = CertManager(
            self,
            "cert_manager",
            chart=platform["cert-manager"],
            resources=resources,
            namespace=platform["cert-manager"].namespace or "cert-manager",
            replicas=replicas,
            depends_on=depends_on,
        )
        self.cluster_issuers: ClusterIssuers | None = None
        if with_issuers:
            self.cluster_issuers = ClusterIssuers(
                self,
                "cluster_issuers",
                chart=platform["cluster-issuers"],
                email=str(acme_email),
                cert_manager=self.cert_manager,
                ingress_class=self.ingress.ingress_class,
            )
        self.cluster_issuer = cluster_issuer
        self.external_dns: ExternalDns | None = None
        if external_dns is not None:
            self.external_dns = ExternalDns(
                self,
                "external_dns",
                chart=platform["external-dns"],
                namespace=platform["external-dns"].namespace or "external-dns",
                domain_filters=[dns_domain],
                txt_owner_id=environment,
                azure=external_dns,
                resources=resources,
                depends_on=depends_on,
            )
        platform_ready = [*depends_on, self.ingress.chart.release, self.cert_manager.chart.release]
        if self.cluster_issuers is not None:  # the services' Ingresses name an issuer that exists
            platform_ready.append(self.cluster_issuers.chart.release)
        facts = {
            "environment": environment,
            "region": region,
            "dns_domain": dns_domain,
            "component_versions": component_versions,
        }
        self.product: ProductServices | None = None
        if services:
            releases = [
                ServiceRelease(
                    name=name,
                    chart=chart,
                    namespace=chart.namespace or "product",
                    host=None if name in internal_services else f"{name}.{dns_domain}",
                )
                for name, chart in services.items()
            ]
            self.product = ProductServices(
                self,
                "product",
                registry=str(registry),
                services=releases,
                secrets=secrets,
                secrets_write_only_revision=secrets_write_only_revision,
                cluster_issuer=cluster_issuer,
                ingress_class=self.ingress.ingress_class,
                ingress_namespace=self.ingress.namespace.literal_name,
                depends_on=platform_ready,
                **facts,
            )
        self.integrations: IntegrationServices | None = None
        if integrations:
            product_namespaces = set(self.product.namespaces) if self.product else set()
            shared = sorted({spec.namespace for spec in integrations} & product_namespaces)
            if shared:
                raise ValueError(
                    f"{owner} integrations use product namespaces {shared}; allowed: namespaces of "
                    "their own (integrations get no product secrets)"
                )
            self.integrations = IntegrationServices(
                self,
                "integrations",
                integrations=integrations,
                versions=integration_versions,
                registry=str(registry or ""),
                cluster_issuer=cluster_issuer,
                ingress_namespace=self.ingress.namespace.literal_name,
                external_secrets=external_secrets,
                depends_on=platform_ready,
                **facts,
            )
        elif external_secrets:
            raise ValueError(
                f"{owner} external_secrets {sorted(external_secrets)} without integrations; allowed: none"
            )
        # Every application namespace is locked down (default-deny ingress) before any of its pods starts.
        self.network_policies: dict[str, NetworkPolicies] = {
            **(self.product.network_policies if self.product else {}),
            **(self.integrations.services.network_policies if self.integrations else {}),
        }
