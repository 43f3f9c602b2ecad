"""enterprise-contoso: a cluster dedicated to the customer Contoso, with its own integration services.

Everything else is the base composition: this module states only what makes Contoso's cluster different.
"""

from building_blocks.kubernetes.integration_specs import SsoBridge
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
    integrations=(
        SsoBridge(
            issuer_url="https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0",
            client_id="7c0e2b1a-4d5f-4e6a-9b8c-1d2e3f4a5b6c",
            allowed_email_domains=("contoso.com",),
        ),
    ),
)
