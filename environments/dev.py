"""dev: every push to main deploys it. Follows the catalog's latest component versions."""

from infra.settings import EnvironmentSettings

ENVIRONMENT = EnvironmentSettings(
    name="dev",
    kind="dev",
    address_space="10.10.0.0/16",
)
