"""A private endpoint with its private DNS zone and VNet link: the one way a block gets a private address."""

from __future__ import annotations

from cdktf_cdktf_provider_azurerm.private_dns_zone import PrivateDnsZone
from cdktf_cdktf_provider_azurerm.private_dns_zone_virtual_network_link import PrivateDnsZoneVirtualNetworkLink
from cdktf_cdktf_provider_azurerm.private_endpoint import (
    PrivateEndpoint,
    PrivateEndpointPrivateDnsZoneGroup,
    PrivateEndpointPrivateServiceConnection,
)
from constructs import Construct


def add_private_endpoint(
    owner: Construct,
    *,
    target_id: str,
    subresource: str,
    dns_zone: str,
    name: str,
    dns_link_name: str,
    resource_group_name: str,
    location: str,
    subnet_id: str,
    virtual_network_id: str,
    zone_group_name: str | None = None,
) -> PrivateEndpoint:
    """Create, as children of ``owner`` (ids ``private_dns_zone``, ``private_dns_zone_link``,
    ``private_endpoint``), the private DNS zone ``dns_zone`` (e.g. ``privatelink.vaultcore.azure.net``) linked to
    ``virtual_network_id`` without auto-registration, and a private endpoint ``name`` in ``subnet_id`` to the
    ``subresource`` (e.g. ``vault``, ``registry``) of ``target_id``, whose A record lands in that zone: workloads in
    the network resolve the resource's public name to its private address. ``zone_group_name`` (default: the
    subresource) names the endpoint's DNS zone group."""
    zone = PrivateDnsZone(owner, "private_dns_zone", name=dns_zone, resource_group_name=resource_group_name)
    PrivateDnsZoneVirtualNetworkLink(
        owner,
        "private_dns_zone_link",
        name=dns_link_name,
        resource_group_name=resource_group_name,
        private_dns_zone_name=zone.name,
        virtual_network_id=virtual_network_id,
        registration_enabled=False,
    )
    return PrivateEndpoint(
        owner,
        "private_endpoint",
        name=name,
        resource_group_name=resource_group_name,
        location=location,
        subnet_id=subnet_id,
        private_service_connection=PrivateEndpointPrivateServiceConnection(
            name=name,
            private_connection_resource_id=target_id,
            subresource_names=[subresource],
            is_manual_connection=False,
        ),
        private_dns_zone_group=PrivateEndpointPrivateDnsZoneGroup(
            name=zone_group_name or subresource, private_dns_zone_ids=[zone.id]
        ),
    )
