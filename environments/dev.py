"""dev: every push to main deploys it. Follows the catalog's latest component versions."""

from infra.settings import EnvironmentSettings

ENVIRONMENT = EnvironmentSettings(
    name="dev",
    kind="dev",
    address_space="10.10.0.0/16",
    # The operators' VPN (also let through the Key Vault firewall). The deploy agent pool's egress is added to
    # every allow-list from config/platform.toml [pipelines]; replace with your own ranges.
    api_server_authorized_ip_ranges=("203.0.113.0/24",),
)
