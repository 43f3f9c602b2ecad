"""enterprise-contoso: a cluster dedicated to the customer Contoso, with its own integration services."""

from infra.settings import EnvironmentSettings

ENVIRONMENT = EnvironmentSettings(
    name="enterprise-contoso",
    kind="enterprise",
    short_name="entctso",
    subscription="enterprise",
    address_space="10.40.0.0/16",
    release_from="production-weu",
    api_server_authorized_ip_ranges=("203.0.113.0/24", "198.51.100.16/28"),
    extra_tags={"customer": "contoso"},
)
