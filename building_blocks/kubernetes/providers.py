"""The helm and kubernetes providers of a stack, configured from a :class:`ClusterConnection` only."""

from __future__ import annotations

from cdktf_cdktf_provider_helm.provider import (
    HelmProvider,
    HelmProviderKubernetes,
    HelmProviderKubernetesExec,
)
from cdktf_cdktf_provider_kubernetes.provider import KubernetesProvider, KubernetesProviderExec
from constructs import Construct

from building_blocks.kubernetes.connection import ClusterConnection


class KubernetesProviders(Construct):
    """The ``helm`` and ``kubernetes`` providers, both pointed at the same cluster.

    No AKS resource, no azurerm: the connection is the whole contract, so the layer deploys onto any
    conformant cluster. Credentials are never stored: either an exec plugin prints a short-lived token on
    every run (kubelogin for AKS), or the kubeconfig context of whoever runs Terraform is used.

    Exposes ``helm`` and ``kubernetes`` (the provider constructs). Both are the stack's default (unaliased)
    providers, so resources below pick them up without ``provider=``.
    """

    def __init__(self, scope: Construct, id_: str, *, connection: ClusterConnection) -> None:
        """``connection``: required, the cluster to deploy to."""
        super().__init__(scope, id_)
        if not isinstance(connection, ClusterConnection):
            raise ValueError(f"KubernetesProviders connection = {connection!r}; allowed: a ClusterConnection")
        self.connection = connection
        if connection.uses_kubeconfig:
            self.helm = HelmProvider(
                self,
                "helm",
                kubernetes=HelmProviderKubernetes(
                    config_path=connection.config_path, config_context=connection.config_context
                ),
            )
            self.kubernetes = KubernetesProvider(
                self,
                "kubernetes",
                config_path=connection.config_path,
                config_context=connection.config_context,
            )
            return
        auth = connection.exec_auth
        assert auth is not None  # guaranteed by ClusterConnection
        exec_kwargs = {"api_version": auth.api_version, "command": auth.command, "args": list(auth.args)}
        if auth.env:
            exec_kwargs["env"] = dict(auth.env)
        self.helm = HelmProvider(
            self,
            "helm",
            kubernetes=HelmProviderKubernetes(
                host=connection.host,
                cluster_ca_certificate=connection.cluster_ca_certificate,
                exec=HelmProviderKubernetesExec(**exec_kwargs),
            ),
        )
        self.kubernetes = KubernetesProvider(
            self,
            "kubernetes",
            host=connection.host,
            cluster_ca_certificate=connection.cluster_ca_certificate,
            exec=[KubernetesProviderExec(**exec_kwargs)],
        )
