"""An environment's Key Vault: the backup of its generated secrets and the source of the cluster's secrets.

Access is Azure RBAC only (no access policies); the firewall denies by default and lets in the pipeline's
egress addresses and trusted Azure services. The cluster reaches the vault through a private endpoint
(:meth:`KeyVault.add_private_endpoint`); the public endpoint is on only while a firewall rule needs it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from cdktf_cdktf_provider_azurerm.key_vault import KeyVault as AzureKeyVault
from cdktf_cdktf_provider_azurerm.key_vault import KeyVaultNetworkAcls
from cdktf_cdktf_provider_azurerm.private_endpoint import (
    PrivateEndpoint,
)
from cdktf_cdktf_provider_azurerm.role_assignment import RoleAssignment
from constructs import Construct

from building_blocks.private_endpoint import add_private_endpoint
from building_blocks.rbac import RBAC_PROPAGATION_SECONDS, RoleGrants, propagation_wait

SECRETS_OFFICER = "Key Vault Secrets Officer"
SECRETS_USER = "Key Vault Secrets User"
PRIVATE_DNS_ZONE = "privatelink.vaultcore.azure.net"


def _ip_rule(cidr: str) -> str:
    """Key Vault rejects /32 (and /31) prefixes: a single address is written without one."""
    try:
        network = ipaddress.IPv4Network(cidr)
    except ValueError:
        raise ValueError(
            f"KeyVault allowed_ip_ranges entry {cidr!r}; allowed: IPv4 addresses or CIDRs with no host bits set"
        ) from None
    if network.prefixlen == 31:
        raise ValueError(
            f"KeyVault allowed_ip_ranges entry {cidr!r}; allowed: a prefix up to /30, or single "
            "addresses (Key Vault rejects /31)"
        )
    return str(network.network_address) if network.prefixlen == 32 else str(network)


class KeyVault(Construct):
    """A Standard vault with RBAC authorization, soft delete, optional purge protection and a deny-by-default
    firewall.

    The identity running Terraform gets ``Key Vault Secrets Officer`` (``officer_assignment``). A resource that
    writes a secret into this vault must depend on ``data_plane_ready`` (a ``time_sleep`` after that assignment,
    see :func:`building_blocks.rbac.propagation_wait`), not on the assignment itself: Key Vault's data plane can
    refuse the new role for minutes (``ForbiddenByRbac``) after Azure Resource Manager reports it, and the
    provider's secret create fails on that 403 without retrying. The stack must configure the ``time`` provider.
    Other identities get access through :meth:`grant_secrets_user` / :meth:`grant_secrets_officer`.

    The public endpoint is enabled only when ``allowed_ip_ranges`` or ``allowed_subnet_ids`` need it; without
    them it is off, and only a private endpoint (:meth:`add_private_endpoint`) and trusted Azure services reach
    the data plane.

    Attributes: ``vault`` (the ``Resource``), ``id``, ``vault_uri``, ``officer_assignment``,
    ``data_plane_ready`` (what the first secret write depends on), ``role_assignments`` (id → role assignment,
    the officer's under ``deployer``), ``private_endpoint`` (or None).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        resource_group_name: str,
        location: str,
        tenant_id: str,
        deployer_object_id: str,
        purge_protection: bool = True,
        soft_delete_retention_days: int = 90,
        allowed_ip_ranges: Sequence[str] = (),
        allowed_subnet_ids: Sequence[str] = (),
        rbac_propagation_seconds: int = RBAC_PROPAGATION_SECONDS,
    ) -> None:
        """``tenant_id``: the Entra tenant; ``deployer_object_id``: the object id of the identity running
        Terraform (``data.azurerm_client_config.current.object_id``), which gets Secrets Officer.
        ``purge_protection`` (default True): a deleted vault or secret cannot be purged before the retention
        ends. ``soft_delete_retention_days``: 7-90 (default 90). ``allowed_ip_ranges``: public IPv4 addresses
        or CIDRs let through the firewall (default none). ``allowed_subnet_ids``: subnets (with the
        Microsoft.KeyVault service endpoint) let through (default none). With neither, public network access
        is disabled: only private endpoints and trusted Azure services reach the vault's data plane.
        ``rbac_propagation_seconds``: how long ``data_plane_ready`` waits after the officer assignment is created
        (default 600, the documented bound; 1-1800)."""
        super().__init__(scope, id_)
        if (
            isinstance(soft_delete_retention_days, bool)
            or not isinstance(soft_delete_retention_days, int)
            or not 7 <= soft_delete_retention_days <= 90
        ):
            raise ValueError(
                f"KeyVault soft_delete_retention_days = {soft_delete_retention_days!r}; allowed: an "
                "integer from 7 to 90"
            )
        ip_rules = [_ip_rule(cidr) for cidr in allowed_ip_ranges]
        if len(set(ip_rules)) != len(ip_rules):
            raise ValueError(f"KeyVault allowed_ip_ranges = {list(allowed_ip_ranges)!r}; allowed: each range once")
        self.vault = AzureKeyVault(
            self,
            "Resource",
            name=name,
            resource_group_name=resource_group_name,
            location=location,
            tenant_id=tenant_id,
            sku_name="standard",
            rbac_authorization_enabled=True,
            purge_protection_enabled=purge_protection,
            soft_delete_retention_days=soft_delete_retention_days,
            enabled_for_deployment=False,
            enabled_for_disk_encryption=False,
            enabled_for_template_deployment=False,
            # The public endpoint exists only for the firewall's rules: the pipeline (Microsoft-hosted or outside
            # the VNet) reaches the vault from allowed_ip_ranges. Without rules it is off altogether.
            public_network_access_enabled=bool(ip_rules or allowed_subnet_ids),
            network_acls=KeyVaultNetworkAcls(
                default_action="Deny",
                bypass="AzureServices",
                ip_rules=ip_rules,
                virtual_network_subnet_ids=list(allowed_subnet_ids),
            ),
        )
        self.id = self.vault.id
        self.vault_uri = self.vault.vault_uri
        self._grants = RoleGrants(self, scope=self.vault.id, id_prefix="role_", label="KeyVault grant")
        self.role_assignments: dict[str, RoleAssignment] = self._grants.assignments
        self.private_endpoint: PrivateEndpoint | None = None
        self.officer_assignment = self.grant_secrets_officer("deployer", deployer_object_id, principal_type=None)
        # Between the officer assignment and the first secret write: data-plane RBAC lags behind ARM. The
        # provider's secret create reads the secret first and fails on anything but 200/404, then writes it and
        # fails on anything but 409 (hashicorp/terraform-provider-azurerm v4.55.0,
        # internal/services/keyvault/key_vault_secret_resource.go:143-147 and :186-220): a ForbiddenByRbac 403 is
        # final, so without this wait a first apply fails and only a re-run succeeds. Key Vault documents "up to
        # 10 minutes (600 seconds)" for a role assignment to apply (learn.microsoft.com/azure/key-vault/general/
        # rbac-guide, "Known limits and performance").
        self.data_plane_ready = propagation_wait(
            self, "officer_propagation", assignments=[self.officer_assignment], seconds=rbac_propagation_seconds)

    def add_private_endpoint(
        self,
        *,
        name: str,
        dns_link_name: str,
        resource_group_name: str,
        location: str,
        subnet_id: str,
        virtual_network_id: str,
    ) -> PrivateEndpoint:
        """A private endpoint for the vault in ``subnet_id`` (named ``name``), with its A record in a
        ``privatelink.vaultcore.azure.net`` zone linked to ``virtual_network_id`` (link named
        ``dns_link_name``): workloads in that network resolve the vault's name to the private address. Once."""
        if self.private_endpoint is not None:
            raise ValueError(
                f"KeyVault.add_private_endpoint name {name!r}: the vault already has a private endpoint; "
                "allowed: one per vault"
            )
        self.private_endpoint = add_private_endpoint(
            self,
            target_id=self.vault.id,
            subresource="vault",
            dns_zone=PRIVATE_DNS_ZONE,
            name=name,
            dns_link_name=dns_link_name,
            resource_group_name=resource_group_name,
            location=location,
            subnet_id=subnet_id,
            virtual_network_id=virtual_network_id,
        )
        return self.private_endpoint

    def grant_secrets_user(
        self, id_: str, principal_id: str, *, principal_type: str | None = "ServicePrincipal"
    ) -> RoleAssignment:
        """``Key Vault Secrets User`` (read secret values) for ``principal_id``, e.g. the AKS secrets-store
        CSI driver's identity. ``id_`` names the grant; one grant per id. ``principal_type`` (default
        ServicePrincipal, right for managed identities; None lets Azure find out)."""
        return self._grant(id_, principal_id, SECRETS_USER, principal_type)

    def grant_secrets_officer(
        self, id_: str, principal_id: str, *, principal_type: str | None = "ServicePrincipal"
    ) -> RoleAssignment:
        """``Key Vault Secrets Officer`` (read and write secrets) for ``principal_id``; see
        :meth:`grant_secrets_user`."""
        return self._grant(id_, principal_id, SECRETS_OFFICER, principal_type)

    def _grant(self, id_: str, principal_id: str, role: str, principal_type: str | None) -> RoleAssignment:
        return self._grants.grant(id_, principal_id, role, principal_type=principal_type)
