"""An environment's public DNS zone ``<label>.<parent domain>``, delegated from the parent zone.

The parent zone (the company domain) is not created here: it lives once, in the subscription that holds shared
platform resources, and belongs to the DNS owner. So does, per environment, the NS record set ``<label>`` in it:
the DNS owner creates it (empty) and gives the environment's pipeline identity ``DNS Zone Contributor`` on that
record set only. The stack adopts it with an ``import`` block and writes the zone's name servers into it, through
the provider handed in as ``parent_provider``. That gives one role scope and one way the record comes to exist:

- no lookup: the parent zone's name and resource group are configuration (``config/platform.toml``), because
  ``data.azurerm_dns_zone`` without a resource group lists every zone of the subscription, which needs read at
  subscription scope (hashicorp/terraform-provider-azurerm v4.55.0, internal/services/dns/
  dns_zone_data_source.go:108-109 and :142-144, ``findZone`` → ``ListComplete``);
- no create: ``azurerm_dns_ns_record`` refuses a record set that already exists ("to be managed via Terraform
  this resource needs to be imported", dns_ns_record_resource.go:99-109), and only an existing record set can
  carry a role assignment (learn.microsoft.com/azure/dns/dns-protect-zones-recordsets, "Record set level Azure
  RBAC"). Terraform (≥ 1.5) imports it on the first apply; afterwards the ``import`` block is a no-op, and
  ``terraform destroy`` ignores it (≥ 1.9).

Destroying an environment deletes its record set (no dangling delegation is left to take over); re-creating the
environment needs the DNS owner to create the record set and the role assignment again.
"""

from __future__ import annotations

import re

import cdktf
from cdktf_cdktf_provider_azurerm.dns_ns_record import DnsNsRecord
from cdktf_cdktf_provider_azurerm.dns_zone import DnsZone
from constructs import Construct

from building_blocks.naming import dns_zone_name

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Azure resource group names: 1-90 letters, digits, '.', '_', '-', '(' and ')', not ending in '.'.
_RESOURCE_GROUP = re.compile(r"^[A-Za-z0-9._()-]{0,89}[A-Za-z0-9_()-]$")


def delegation_record_id(*, subscription_id: str, resource_group_name: str, parent_domain: str, label: str) -> str:
    """The Azure resource id of the NS record set ``label`` in zone ``parent_domain``: what the DNS owner creates,
    the scope of the pipeline identity's role, and the id the stack imports (the format azurerm parses,
    go-azure-sdk dns/2018-05-01/recordsets/id_recordtype.go)."""
    return (f"/subscriptions/{subscription_id}/resourceGroups/{resource_group_name}/providers/"
            f"Microsoft.Network/dnsZones/{parent_domain}/NS/{label}")


class PublicDnsZone(Construct):
    """A public zone and its NS delegation in the parent zone (an adopted, pre-created record set).

    Attributes: ``zone`` (the ``Resource``), ``fqdn`` (the zone name as a plain string, known at synth time),
    ``delegation`` (the NS record set in the parent zone), ``delegation_id`` (its Azure resource id, a plain
    string: the record set the DNS owner creates and the scope of the pipeline identity's role).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        resource_group_name: str,
        label: str,
        parent_domain: str,
        parent_resource_group_name: str,
        parent_subscription_id: str,
        parent_provider: cdktf.TerraformProvider | None = None,
        delegation_ttl: int = 3600,
    ) -> None:
        """``label``: the environment's DNS label; ``parent_domain``: the company domain, whose zone must
        exist already in ``parent_resource_group_name`` of subscription ``parent_subscription_id`` (a lowercase
        GUID), with an NS record set ``label`` in it. ``parent_provider``: the aliased azurerm provider of that
        subscription (default: the stack's default provider, for a parent zone in the same subscription).
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
        if not isinstance(parent_resource_group_name, str) or not _RESOURCE_GROUP.match(parent_resource_group_name):
            raise ValueError(
                f"PublicDnsZone parent_resource_group_name = {parent_resource_group_name!r}; allowed: an Azure "
                "resource group name (1-90 letters, digits, . _ - ( ), not ending in '.')"
            )
        if not isinstance(parent_subscription_id, str) or not _GUID.match(parent_subscription_id):
            raise ValueError(
                f"PublicDnsZone parent_subscription_id = {parent_subscription_id!r}; allowed: a lowercase GUID"
            )
        self.zone = DnsZone(self, "Resource", name=self.fqdn, resource_group_name=resource_group_name)
        self.delegation_id = delegation_record_id(
            subscription_id=parent_subscription_id, resource_group_name=parent_resource_group_name,
            parent_domain=parent_domain, label=label)
        self.delegation = DnsNsRecord(
            self,
            "delegation",
            name=label,
            zone_name=parent_domain,
            resource_group_name=parent_resource_group_name,
            records=self.zone.name_servers,
            ttl=delegation_ttl,
            provider=parent_provider,
        )
        self.delegation.import_from(self.delegation_id, parent_provider)
