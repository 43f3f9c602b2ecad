"""bootstrap: the Terraform state storage every other stack's azurerm backend uses, and its access log.

Applied once by hand with a local backend (README, "Bootstrap"); never by a pipeline.
"""

from infra.settings import BootstrapSettings

ENVIRONMENT = BootstrapSettings(
    # The pipeline agents' and operators' egress: every pipeline reads and writes its state through the
    # account's default-deny firewall (Entra ID only; shared keys are off); replace with your own ranges.
    allowed_ip_ranges=("203.0.113.0/24",),
)
