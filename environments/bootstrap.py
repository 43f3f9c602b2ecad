"""bootstrap: the Terraform state storage every other stack's azurerm backend uses, and its access log.

Applied once by hand with a local backend (README, "Bootstrap"); never by a pipeline.
"""

from infra.settings import BootstrapSettings

ENVIRONMENT = BootstrapSettings(
    # The operators' egress. Every pipeline reads and writes its state through the account's default-deny
    # firewall (Entra ID only; shared keys are off) from the deploy agent pool, whose egress and subnets are
    # added from config/platform.toml [pipelines]; replace with your own ranges.
    allowed_ip_ranges=("203.0.113.0/24",),
)
