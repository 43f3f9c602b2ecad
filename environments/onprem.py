"""onprem: the Kubernetes layer on an existing, non-AKS cluster reached through a kubeconfig context.

Creates no cluster, network or DNS zone (its only Azure footprint is a resource group, the Key Vault that backs
up its generated secrets and the Log Analytics workspace of the vault's audit log): it proves the Kubernetes
layer depends only on a cluster connection. The kubeconfig file comes from the Terraform variable
``kubeconfig_path`` (default ``~/.kube/config``); see docs/kubernetes-layer.md.
"""

from infra.settings import EnvironmentSettings

ENVIRONMENT = EnvironmentSettings(
    name="onprem",
    kind="external",
    kubeconfig_context="onprem-lab",
    # The lab's registry mirror: the company's charts (oci://<host>/helm) and images are replicated into it.
    container_registry_login_server="registry.onprem-lab.northwind.example",
    # The operators' VPN, let through the Key Vault firewall next to the deploy agent pool's egress
    # (config/platform.toml [pipelines]; the pipeline writes the generated secrets' backup there).
    pipeline_ip_ranges=("203.0.113.0/24",),
)
