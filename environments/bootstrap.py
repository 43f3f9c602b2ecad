"""bootstrap: the Terraform state storage every other stack's azurerm backend uses, and its access log: one
account per region that has an environment, holding the containers of that region's environments
(infra/state.py), so losing a region stops only that region's environments.

Applied by hand with a local backend (README, "Bootstrap"), again whenever an environment or a region is added;
never by a pipeline. Moving an environment's state to another region's account: docs/disaster-recovery.md.
"""

from infra.settings import BootstrapSettings

ENVIRONMENT = BootstrapSettings(
    # The operators' egress. Every pipeline reads and writes its state through the accounts' default-deny
    # firewalls (Entra ID only; shared keys are off) from the deploy agent pool, whose egress and subnets are
    # added from config/platform.toml [pipelines]; replace with your own ranges.
    allowed_ip_ranges=("203.0.113.0/24",),
)
