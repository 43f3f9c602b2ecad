"""An environment's Azure Container Registry: images and OCI Helm charts of the company's services.

One registry per environment: promotion (dev → staging → production) is an explicit ``az acr import`` of a
tested digest, a production registry holds only what was promoted, and no identity needs rights across
subscriptions. See docs/azure-building-blocks.md.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from cdktf_cdktf_provider_azurerm.container_registry import (
    ContainerRegistry as AzureContainerRegistry,
)
from cdktf_cdktf_provider_azurerm.container_registry import (
    ContainerRegistryNetworkRuleSet,
    ContainerRegistryNetworkRuleSetIpRule,
)
from cdktf_cdktf_provider_azurerm.private_endpoint import (
    PrivateEndpoint,
)
from cdktf_cdktf_provider_azurerm.role_assignment import RoleAssignment
from constructs import Construct

from building_blocks.naming import Namer
from building_blocks.private_endpoint import add_private_endpoint
from building_blocks.rbac import RoleGrants

SKUS = ("Basic", "Standard", "Premium")
PRIVATE_DNS_ZONE = "privatelink.azurecr.io"


class ContainerRegistry(Construct):
    """A registry with the admin user and anonymous pull disabled: every pull and push is an Entra identity
    with a role (``grant_pull``).

    Premium adds what only Premium has: a firewall that denies by default (``allowed_ip_ranges`` pass,
    trusted Azure services bypass), dedicated data endpoints, zone redundancy, a retention policy for untagged
    manifests and, with ``private_endpoint_subnet_id``, a private endpoint whose DNS records land in a
    ``privatelink.azurecr.io`` zone linked to the VNet. Premium with a private endpoint and no
    ``allowed_ip_ranges`` turns public network access off altogether.

    Attributes: ``registry`` (the ``Resource``), ``login_server``, ``private_endpoint`` (or None),
    ``pull_assignments`` (id → role assignment).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        namer: Namer,
        resource_group_name: str,
        location: str,
        sku: str = "Standard",
        allowed_ip_ranges: Sequence[str] = (),
        private_endpoint_subnet_id: str | None = None,
        virtual_network_id: str | None = None,
        zone_redundant: bool = True,
        untagged_retention_days: int = 7,
    ) -> None:
        """``sku``: Basic, Standard (default) or Premium. Premium only: ``allowed_ip_ranges`` (IPv4 addresses
        or CIDRs let through the firewall, default none), ``private_endpoint_subnet_id`` with the
        ``virtual_network_id`` to link the private DNS zone to (default: no private endpoint),
        ``zone_redundant`` (default True; needs a region with zones), ``untagged_retention_days`` (0-365,
        default 7: untagged manifests are deleted after a week)."""
        super().__init__(scope, id_)
        if sku not in SKUS:
            raise ValueError(f"ContainerRegistry sku = {sku!r}; allowed: {', '.join(SKUS)}")
        premium = sku == "Premium"
        ranges = list(allowed_ip_ranges)
        for cidr in ranges:
            try:
                ipaddress.IPv4Network(cidr)
            except ValueError:
                raise ValueError(
                    f"ContainerRegistry allowed_ip_ranges entry {cidr!r}; allowed: IPv4 addresses or "
                    "CIDRs with no host bits set"
                ) from None
        if ranges and not premium:
            raise ValueError(
                f"ContainerRegistry allowed_ip_ranges = {ranges!r} with sku {sku!r}; allowed: "
                "ranges only with sku 'Premium' (the only tier with a firewall)"
            )
        if (private_endpoint_subnet_id is None) != (virtual_network_id is None):
            raise ValueError(
                "ContainerRegistry private_endpoint_subnet_id and virtual_network_id: supply both or "
                f"neither, got subnet {private_endpoint_subnet_id!r}, network {virtual_network_id!r}"
            )
        if private_endpoint_subnet_id is not None and not premium:
            raise ValueError(
                f"ContainerRegistry private_endpoint_subnet_id with sku {sku!r}; allowed: private "
                "endpoints only with sku 'Premium'"
            )
        if (
            isinstance(untagged_retention_days, bool)
            or not isinstance(untagged_retention_days, int)
            or not 0 <= untagged_retention_days <= 365
        ):
            raise ValueError(
                f"ContainerRegistry untagged_retention_days = {untagged_retention_days!r}; allowed: "
                "an integer from 0 to 365"
            )
        premium_options: dict[str, object] = {}
        if premium:
            premium_options = {
                "public_network_access_enabled": bool(ranges) or private_endpoint_subnet_id is None,
                "network_rule_set": [
                    ContainerRegistryNetworkRuleSet(
                        default_action="Deny",
                        ip_rule=[
                            ContainerRegistryNetworkRuleSetIpRule(action="Allow", ip_range=r) for r in ranges
                        ],
                    )
                ],
                "network_rule_bypass_option": "AzureServices",
                "data_endpoint_enabled": True,
                "zone_redundancy_enabled": zone_redundant,
                "retention_policy_in_days": untagged_retention_days,
            }
        self.registry = AzureContainerRegistry(
            self,
            "Resource",
            name=namer.name("container_registry"),
            resource_group_name=resource_group_name,
            location=location,
            sku=sku,
            admin_enabled=False,
            anonymous_pull_enabled=False,
            **premium_options,  # type: ignore[arg-type]
        )
        self.login_server = self.registry.login_server
        self.private_endpoint: PrivateEndpoint | None = None
        if private_endpoint_subnet_id is not None and virtual_network_id is not None:
            self.private_endpoint = add_private_endpoint(
                self,
                target_id=self.registry.id,
                subresource="registry",
                zone_group_name="acr",
                dns_zone=PRIVATE_DNS_ZONE,
                name=namer.name("private_endpoint", "acr"),
                dns_link_name=namer.name("private_dns_zone_link", "acr"),
                resource_group_name=resource_group_name,
                location=location,
                subnet_id=private_endpoint_subnet_id,
                virtual_network_id=virtual_network_id,
            )
        self._grants = RoleGrants(self, scope=self.registry.id, id_prefix="pull_",
                                  label="ContainerRegistry.grant_pull")
        self.pull_assignments: dict[str, RoleAssignment] = self._grants.assignments

    def grant_pull(
        self, id_: str, principal_id: str, *, principal_type: str | None = "ServicePrincipal"
    ) -> RoleAssignment:
        """Give ``principal_id`` (a managed identity's object id, e.g. the AKS kubelet's) ``AcrPull`` on this
        registry. ``id_`` names the grant in the construct tree; one grant per id. ``principal_type`` default
        ServicePrincipal; None when the principal may be a user or a service principal (whoever runs Terraform)."""
        return self._grants.grant(id_, principal_id, "AcrPull", principal_type=principal_type,
                                  skip_aad_check=principal_type == "ServicePrincipal")
