"""Customer-specific integration services of an enterprise environment, deployed like the company's own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cdktf
from constructs import Construct

from building_blocks.kubernetes.helm_chart import ChartVersion
from building_blocks.kubernetes.integration_specs import IntegrationSpec
from building_blocks.kubernetes.product_services import ProductServices, ServiceRelease


class IntegrationServices(Construct):
    """One release per :class:`IntegrationSpec`, through :class:`ProductServices` (child ``Resource``): same
    hardening, same values contract, the spec's typed config merged on top, a ``platform-settings`` config map
    in each integration namespace. No global secrets: an integration gets only what its spec names — its
    values from outside (:meth:`IntegrationSpec.external_secrets`), each in a Secret its release waits for.

    Exposes ``services`` (the :class:`ProductServices`) and ``releases`` (the :class:`ServiceRelease` list).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        integrations: Sequence[IntegrationSpec],
        versions: Mapping[str, ChartVersion],
        registry: str,
        environment: str,
        region: str,
        dns_domain: str,
        component_versions: Mapping[str, str],
        cluster_issuer: str | None = None,
        ingress_namespace: str | None = None,
        external_secrets: Mapping[str, str] | None = None,
        depends_on: Sequence[cdktf.ITerraformDependable] = (),
    ) -> None:
        """Required: ``integrations`` (at least one, unique components), ``versions`` (component →
        :class:`ChartVersion`, one per integration), ``registry`` and the platform-settings data (see
        :class:`ProductServices`). ``external_secrets`` (default none): the values from outside the
        integrations need, ``store_name`` of each :class:`ExternalSecret` → a Terraform reference to its value
        (the stack reads them from the environment's secret store); one missing, or one no integration needs,
        is refused. Each becomes a Secret in the integration's namespace that its release waits for.
        ``cluster_issuer``, ``ingress_namespace`` (NetworkPolicies) and ``depends_on`` (default none): as in
        :class:`ProductServices`."""
        super().__init__(scope, id_)
        owner = "IntegrationServices"
        if not integrations:
            raise ValueError(
                f"{owner} integrations = {integrations!r}; allowed: at least one IntegrationSpec"
            )
        supplied = dict(external_secrets or {})
        needed: set[str] = set()
        releases = []
        for spec in integrations:
            if not isinstance(spec, IntegrationSpec):
                raise ValueError(
                    f"{owner} integration {spec!r}; allowed: an IntegrationSpec such as SsoBridge"
                )
            if spec.component not in versions:
                raise ValueError(
                    f"{owner} integration {spec.component!r} has no version; allowed: components in "
                    f"the release: {', '.join(sorted(versions)) or 'none'}"
                )
            secrets: dict[str, dict[str, str]] = {}
            for external in spec.external_secrets():
                needed.add(external.store_name)
                if external.store_name not in supplied:
                    raise ValueError(
                        f"{owner} integration {spec.component!r} needs the value from outside "
                        f"{external.store_name!r} ({external.description}); allowed: external_secrets with a "
                        "reference for it, read from the environment's secret store"
                    )
                secrets.setdefault(external.secret_name, {})[external.key] = supplied[external.store_name]
            releases.append(
                ServiceRelease(
                    name=spec.component,
                    chart=versions[spec.component],
                    namespace=spec.namespace,
                    host=f"{spec.host_label}.{dns_domain}" if spec.host_label else None,
                    values=spec.values(),
                    secrets=secrets,
                )
            )
        unused = sorted(set(supplied) - needed)
        if unused:
            raise ValueError(
                f"{owner} external_secrets {unused} are needed by no integration; allowed: "
                f"{', '.join(sorted(needed)) or 'none'}"
            )
        self.releases = releases
        self.services = ProductServices(
            self,
            "Resource",
            registry=registry,
            services=releases,
            environment=environment,
            region=region,
            dns_domain=dns_domain,
            component_versions=component_versions,
            cluster_issuer=cluster_issuer,
            ingress_namespace=ingress_namespace,
            depends_on=depends_on,
        )
