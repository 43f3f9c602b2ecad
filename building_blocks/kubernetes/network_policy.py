"""NetworkPolicies of one namespace: deny all ingress by default, then allow the same namespace and the ingress
controller.

The AKS clusters run Cilium network policy, so these objects are enforced there (and by any conformant CNI on
other clusters). Egress stays open by default: the services reach PostgreSQL, Key Vault (through the Secrets
Store CSI driver), external identity providers and customer endpoints, and a default-deny egress would need an
allowlist per service. ``deny_egress=True`` is there for the namespaces that can live with one: it denies all
egress except DNS to ``kube-system`` and traffic inside the namespace.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktf_cdktf_provider_kubernetes.network_policy_v1 import (
    NetworkPolicyV1,
    NetworkPolicyV1Metadata,
    NetworkPolicyV1Spec,
    NetworkPolicyV1SpecEgress,
    NetworkPolicyV1SpecEgressPorts,
    NetworkPolicyV1SpecEgressTo,
    NetworkPolicyV1SpecEgressToNamespaceSelector,
    NetworkPolicyV1SpecEgressToPodSelector,
    NetworkPolicyV1SpecIngress,
    NetworkPolicyV1SpecIngressFrom,
    NetworkPolicyV1SpecIngressFromNamespaceSelector,
    NetworkPolicyV1SpecIngressFromPodSelector,
    NetworkPolicyV1SpecPodSelector,
)
from constructs import Construct

from building_blocks.kubernetes.namespace import DNS1123_LABEL, MANAGED_BY_LABEL, Namespace

# Set by the API server on every namespace (Kubernetes ≥ 1.22): selects a namespace by name without a label of ours.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
DNS_NAMESPACE = "kube-system"
DEFAULT_DENY_NAME = "default-deny"
ALLOW_SAME_NAMESPACE_NAME = "allow-same-namespace"
ALLOW_INGRESS_CONTROLLER_NAME = "allow-from-ingress-controller"
ALLOW_DNS_NAME = "allow-dns-egress"


class NetworkPolicies(Construct):
    """Three (four with ``deny_egress``) ``kubernetes_network_policy_v1`` objects in one namespace, each
    selecting every pod (``pod_selector {}``):

    * ``default-deny`` (child ``Resource``): policy type ``Ingress`` with no rule — no pod accepts traffic
      unless another policy allows it (with ``deny_egress``: types ``Ingress`` and ``Egress``);
    * ``allow-same-namespace``: ingress from any pod of this namespace (with ``deny_egress`` also egress to
      them);
    * ``allow-from-ingress-controller``: ingress from any pod of the ingress controller's namespace, matched by
      the ``kubernetes.io/metadata.name`` label the API server sets (it cannot be forged by a namespace owner);
    * with ``deny_egress`` only, ``allow-dns-egress``: egress to ``kube-system`` on UDP and TCP 53.

    Traffic between a pod and its own node (kubelet probes) is always allowed by NetworkPolicy.

    Exposes ``default_deny``, ``allow_same_namespace``, ``allow_ingress_controller``, ``allow_dns`` (None
    without ``deny_egress``) and ``policies`` (all of them, for ``depends_on``).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        namespace: Namespace,
        ingress_namespace: str = "ingress-nginx",
        deny_egress: bool = False,
    ) -> None:
        """``namespace``: required, the :class:`Namespace` the policies go into (not ``default`` or
        ``kube-*``); every policy references its name, so it is created after the namespace.
        ``ingress_namespace`` (default ``ingress-nginx``): the namespace of the ingress controller whose pods
        may reach every pod here. ``deny_egress`` (default False: egress stays open): deny all egress except
        DNS to ``kube-system`` (UDP/TCP 53) and pods of the same namespace."""
        super().__init__(scope, id_)
        owner = "NetworkPolicies"
        if not isinstance(namespace, Namespace):
            raise ValueError(f"{owner} namespace = {namespace!r}; allowed: a Namespace construct")
        ns_name = namespace.literal_name
        if ns_name == "default" or ns_name.startswith("kube-"):
            raise ValueError(
                f"{owner} namespace = {ns_name!r}; allowed: a namespace of ours (not 'default' or 'kube-*')"
            )
        if not isinstance(ingress_namespace, str) or not DNS1123_LABEL.match(ingress_namespace):
            raise ValueError(
                f"{owner} ingress_namespace = {ingress_namespace!r}; allowed: a DNS-1123 label (≤ 63 lowercase "
                "letters, digits and '-')"
            )
        if not isinstance(deny_egress, bool):
            raise ValueError(f"{owner} deny_egress = {deny_egress!r}; allowed: True or False")
        self.namespace = namespace
        self.ingress_namespace = ingress_namespace
        self.deny_egress = deny_egress
        egress = ["Egress"] if deny_egress else []

        self.default_deny = self._policy("Resource", DEFAULT_DENY_NAME, policy_types=["Ingress", *egress])
        self.allow_same_namespace = self._policy(
            "allow_same_namespace",
            ALLOW_SAME_NAMESPACE_NAME,
            policy_types=["Ingress", *egress],
            ingress=[
                NetworkPolicyV1SpecIngress(
                    from_=[NetworkPolicyV1SpecIngressFrom(pod_selector=NetworkPolicyV1SpecIngressFromPodSelector())]
                )
            ],
            egress=(
                [
                    NetworkPolicyV1SpecEgress(
                        to=[NetworkPolicyV1SpecEgressTo(pod_selector=NetworkPolicyV1SpecEgressToPodSelector())]
                    )
                ]
                if deny_egress
                else None
            ),
        )
        self.allow_ingress_controller = self._policy(
            "allow_ingress_controller",
            ALLOW_INGRESS_CONTROLLER_NAME,
            policy_types=["Ingress"],
            ingress=[
                NetworkPolicyV1SpecIngress(
                    from_=[
                        NetworkPolicyV1SpecIngressFrom(
                            namespace_selector=NetworkPolicyV1SpecIngressFromNamespaceSelector(
                                match_labels={NAMESPACE_NAME_LABEL: ingress_namespace}
                            )
                        )
                    ]
                )
            ],
        )
        self.allow_dns: NetworkPolicyV1 | None = None
        if deny_egress:
            self.allow_dns = self._policy(
                "allow_dns",
                ALLOW_DNS_NAME,
                policy_types=["Egress"],
                egress=[
                    NetworkPolicyV1SpecEgress(
                        to=[
                            NetworkPolicyV1SpecEgressTo(
                                namespace_selector=NetworkPolicyV1SpecEgressToNamespaceSelector(
                                    match_labels={NAMESPACE_NAME_LABEL: DNS_NAMESPACE}
                                )
                            )
                        ],
                        ports=[
                            NetworkPolicyV1SpecEgressPorts(port="53", protocol="UDP"),
                            NetworkPolicyV1SpecEgressPorts(port="53", protocol="TCP"),
                        ],
                    )
                ],
            )
        self.policies: list[NetworkPolicyV1] = [
            self.default_deny,
            self.allow_same_namespace,
            self.allow_ingress_controller,
            *([self.allow_dns] if self.allow_dns is not None else []),
        ]

    def _policy(
        self,
        id_: str,
        name: str,
        *,
        policy_types: list[str],
        ingress: Sequence[NetworkPolicyV1SpecIngress] | None = None,
        egress: Sequence[NetworkPolicyV1SpecEgress] | None = None,
    ) -> NetworkPolicyV1:
        return NetworkPolicyV1(
            self,
            id_,
            metadata=NetworkPolicyV1Metadata(
                name=name, namespace=self.namespace.name, labels=dict(MANAGED_BY_LABEL)
            ),
            spec=NetworkPolicyV1Spec(
                pod_selector=NetworkPolicyV1SpecPodSelector(),
                policy_types=policy_types,
                ingress=list(ingress) if ingress else None,
                egress=list(egress) if egress else None,
            ),
            depends_on=[self.namespace.resource],
        )

