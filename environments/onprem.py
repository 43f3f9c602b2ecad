"""onprem: the Kubernetes layer on an existing, non-AKS cluster reached through a kubeconfig context.

Creates no cluster and no Azure resource: it proves the Kubernetes layer depends only on a cluster connection.
"""

from infra.settings import EnvironmentSettings

ENVIRONMENT = EnvironmentSettings(
    name="onprem",
    kind="external",
    kubeconfig_context="onprem-lab",
)
