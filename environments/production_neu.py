"""production-neu: customer-facing, North Europe. Versions are promoted from staging."""

from infra.settings import EnvironmentSettings, NodePoolSettings

ENVIRONMENT = EnvironmentSettings(
    name="production-neu",
    kind="production",
    short_name="prdneu",
    location="northeurope",
    subscription="production",
    address_space="10.31.0.0/16",
    user_pool=NodePoolSettings(min_count=3, max_count=12),
    api_server_authorized_ip_ranges=("203.0.113.0/24",),
)
