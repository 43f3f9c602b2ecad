"""staging: deployed on a manual trigger from a resolved, partly locked list of component versions."""

from infra.settings import EnvironmentSettings

ENVIRONMENT = EnvironmentSettings(
    name="staging",
    kind="staging",
    address_space="10.20.0.0/16",
)
