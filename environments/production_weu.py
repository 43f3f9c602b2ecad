"""production-weu: customer-facing, West Europe. Versions are promoted from staging."""

from infra.settings import EnvironmentSettings, NodePoolSettings

ENVIRONMENT = EnvironmentSettings(
    name="production-weu",
    kind="production",
    short_name="prdweu",
    location="westeurope",
    subscription="production",
    address_space="10.30.0.0/16",
    user_pool=NodePoolSettings(min_count=3, max_count=12),
    # The operators' VPN; the deploy agent pool's egress comes from config/platform.toml [pipelines].
    api_server_authorized_ip_ranges=("203.0.113.0/24",),
)
