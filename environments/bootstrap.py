"""bootstrap: the Terraform state storage every other stack's azurerm backend uses.

Applied once by hand with a local backend (README, "Bootstrap"); never by a pipeline.
"""

from infra.settings import BootstrapSettings

ENVIRONMENT = BootstrapSettings()
