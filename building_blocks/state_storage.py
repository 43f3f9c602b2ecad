"""The Terraform state storage account: hardened, versioned, soft-deleted, locked against deletion."""

from __future__ import annotations

import re
from collections.abc import Sequence

import cdktf
from cdktf_cdktf_provider_azurerm.management_lock import ManagementLock
from cdktf_cdktf_provider_azurerm.storage_account import (
    StorageAccount,
    StorageAccountBlobProperties,
    StorageAccountBlobPropertiesContainerDeleteRetentionPolicy,
    StorageAccountBlobPropertiesDeleteRetentionPolicy,
    StorageAccountNetworkRules,
)
from cdktf_cdktf_provider_azurerm.storage_container import StorageContainer
from constructs import Construct

_CONTAINER = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")


class StateStorage(Construct):
    """A storage account for Terraform state with one private container per environment.

    Hardening: TLS 1.2 minimum, HTTPS only, no public blob access, shared access keys disabled (Entra ID only,
    and the portal defaults to it), infrastructure encryption, blob versioning, blob and container
    soft-delete, a firewall that denies by default, and a ``CanNotDelete`` lock on the account. Every container
    has ``prevent_destroy``: a change that would replace a container (and delete the state in it) fails the plan.
    It cannot guard a container whose block leaves the configuration (Terraform forgets its lifecycle with it):
    moving an environment to another region's account drops the old container from the bootstrap's state by
    hand (docs/disaster-recovery.md, case 6).

    Attributes: ``account`` (the ``Resource``), ``containers`` (name → container), ``blob_service_id`` (the
    account's blob service, ``<account id>/blobServices/default``: where blob access logging is attached).
    """

    def __init__(self, scope: Construct, id_: str, *, resource_group_name: str, location: str,
                 account_name: str, containers: Sequence[str], soft_delete_retention_days: int = 30,
                 replication_type: str = "RAGZRS", allowed_ip_ranges: Sequence[str] = (),
                 allowed_subnet_ids: Sequence[str] = ()) -> None:
        """``containers``: container names (3-63 lowercase letters, digits, single hyphens; at least one).
        ``soft_delete_retention_days`` (default 30) applies to blobs and containers. ``replication_type``
        (default RAGZRS). ``allowed_ip_ranges`` (default none) pass the firewall in addition to trusted
        Azure services; ``allowed_subnet_ids`` (default none) pass it by subnet rule (service endpoint
        Microsoft.Storage), which same-region callers need: IP rules do not apply to them."""
        super().__init__(scope, id_)
        if not containers:
            raise ValueError("StateStorage needs at least one container, got none")
        for name in containers:
            if not _CONTAINER.match(name):
                raise ValueError(f"state container name {name!r}; allowed: 3-63 lowercase letters, digits and "
                                 "single hyphens, starting and ending with a letter or digit")
        if len(set(containers)) != len(containers):
            raise ValueError(f"state container names must be unique, got {sorted(containers)}")
        self.account = StorageAccount(
            self, "Resource",
            name=account_name,
            resource_group_name=resource_group_name,
            location=location,
            account_tier="Standard",
            account_kind="StorageV2",
            account_replication_type=replication_type,
            min_tls_version="TLS1_2",
            https_traffic_only_enabled=True,
            allow_nested_items_to_be_public=False,
            shared_access_key_enabled=False,
            default_to_oauth_authentication=True,
            infrastructure_encryption_enabled=True,
            cross_tenant_replication_enabled=False,
            local_user_enabled=False,
            sftp_enabled=False,
            blob_properties=StorageAccountBlobProperties(
                versioning_enabled=True,
                change_feed_enabled=True,
                change_feed_retention_in_days=soft_delete_retention_days,
                delete_retention_policy=StorageAccountBlobPropertiesDeleteRetentionPolicy(
                    days=soft_delete_retention_days),
                container_delete_retention_policy=StorageAccountBlobPropertiesContainerDeleteRetentionPolicy(
                    days=soft_delete_retention_days),
            ),
            network_rules=StorageAccountNetworkRules(
                default_action="Deny",
                bypass=["AzureServices"],
                ip_rules=list(allowed_ip_ranges),
                virtual_network_subnet_ids=list(allowed_subnet_ids),
            ),
        )
        # The blob service: the target of a diagnostic setting that logs every read, write and delete of state.
        self.blob_service_id = f"{self.account.id}/blobServices/default"
        self.containers = {
            name: StorageContainer(self, f"container-{name}", name=name, storage_account_id=self.account.id,
                                   container_access_type="private",
                                   lifecycle=cdktf.TerraformResourceLifecycle(prevent_destroy=True))
            for name in containers
        }
        ManagementLock(self, "lock", name="do-not-delete-terraform-state", scope=self.account.id,
                       lock_level="CanNotDelete",
                       notes="Holds every environment's Terraform state; remove only to retire the platform.")
