"""An environment's public DNS zone ``<label>.<parent domain>``, delegated from the parent zone.

The parent zone (the company domain) is not created here: it lives once, in the subscription that holds shared
platform resources, and every environment looks it up with a data source through the provider handed in as
``parent_provider`` and writes its own NS record set there. Deleting an environment removes its delegation
and nothing else.
"""

from __future__ import annotations

import cdktf
from cdktf_cdktf_provider_azurerm.data_azurerm_dns_zone import DataAzurermDnsZone
from cdktf_cdktf_provider_azurerm.dns_ns_record import DnsNsRecord
from cdktf_cdktf_provider_azurerm.dns_zone import DnsZone
from constructs import Construct

from building_blocks.naming import dns_zone_name


class PublicDnsZone(Construct):
    """A public zone and its NS delegation in the parent zone.

    Attributes: ``zone`` (the ``Resource``), ``fqdn`` (the zone name as a plain string, known at synth time),
    ``parent`` (the parent zone data source), ``delegation`` (the NS record set in the parent zone).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        resource_group_name: str,
        label: str,
        parent_domain: str,
        parent_provider: cdktf.TerraformProvider | None = None,
        delegation_ttl: int = 3600,
    ) -> None:
        """``label``: the environment's DNS label; ``parent_domain``: the company domain, whose zone must
        exist already. ``parent_provider``: the aliased azurerm provider of the parent zone's subscription
        (default: the stack's default provider, for a parent zone in the same subscription).
        ``delegation_ttl``: TTL of the NS records in seconds (300-172800, default 3600)."""
        super().__init__(scope, id_)
        self.fqdn = dns_zone_name(label, parent_domain)  # NamingError (a ValueError) names the broken part
        if (
            isinstance(delegation_ttl, bool)
            or not isinstance(delegation_ttl, int)
            or not 300 <= delegation_ttl <= 172800
        ):
            raise ValueError(
                f"PublicDnsZone delegation_ttl = {delegation_ttl!r}; allowed: an integer from 300 "
                "to 172800 seconds"
            )
        self.zone = DnsZone(self, "Resource", name=self.fqdn, resource_group_name=resource_group_name)
        # No resource group: the data source finds the zone by name in the provider's subscription, so the
        # parent's resource group is not a second thing every environment has to know.
        self.parent = DataAzurermDnsZone(self, "parent", name=parent_domain, provider=parent_provider)
        self.delegation = DnsNsRecord(
            self,
            "delegation",
            name=label,
            zone_name=self.parent.name,
            resource_group_name=self.parent.resource_group_name,
            records=self.zone.name_servers,
            ttl=delegation_ttl,
            provider=parent_provider,
        )
