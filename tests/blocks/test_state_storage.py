"""StateStorage: the Terraform state account, hardened; its blob service id for the access log."""

from __future__ import annotations

import pytest

from building_blocks.state_storage import StateStorage
from tests.blocks.azure_helpers import only, resources, synth


def storage(stack, **overrides):
    return StateStorage(
        stack,
        "state",
        **{
            "resource_group_name": "rg",
            "location": "westeurope",
            "account_name": "stnwtmgmttfstate1234",
            "containers": ["tfstate-dev", "tfstate-production"],
            **overrides,
        },
    )


def test_required_inputs_make_an_entra_only_versioned_soft_deleted_locked_account():
    out = synth(storage)
    account = only(out, "azurerm_storage_account")
    assert (account["min_tls_version"], account["https_traffic_only_enabled"]) == ("TLS1_2", True)
    assert account["allow_nested_items_to_be_public"] is False
    assert (account["shared_access_key_enabled"], account["default_to_oauth_authentication"]) == (False, True)
    assert (account["local_user_enabled"], account["sftp_enabled"]) == (False, False)
    assert account["infrastructure_encryption_enabled"] is True
    assert account["cross_tenant_replication_enabled"] is False
    assert account["account_replication_type"] == "RAGZRS"
    blob = account["blob_properties"]
    assert (blob["versioning_enabled"], blob["change_feed_enabled"]) == (True, True)
    assert blob["delete_retention_policy"] == {"days": 30}
    assert blob["container_delete_retention_policy"] == {"days": 30}
    assert account["network_rules"] == {"default_action": "Deny", "bypass": ["AzureServices"], "ip_rules": [],
                                        "virtual_network_subnet_ids": []}
    assert {c["name"]: c["container_access_type"] for c in resources(out, "azurerm_storage_container").values()} == {
        "tfstate-dev": "private",
        "tfstate-production": "private",
    }
    assert only(out, "azurerm_management_lock")["lock_level"] == "CanNotDelete"


def test_blob_service_id_is_where_blob_logging_attaches():
    import cdktf

    def build(stack):
        cdktf.TerraformOutput(stack, "blob_service", value=storage(stack).blob_service_id)

    value = synth(build)["output"]["blob_service"]["value"]
    assert value.startswith("${azurerm_storage_account.state_") and value.endswith(".id}/blobServices/default")


def test_allowed_ranges_pass_the_firewall():
    out = synth(lambda s: storage(s, allowed_ip_ranges=["203.0.113.0/24"]))
    assert only(out, "azurerm_storage_account")["network_rules"]["ip_rules"] == ["203.0.113.0/24"]


def test_allowed_subnets_pass_the_firewall_by_subnet_rule():
    """Same-region callers are not matched by IP rules (Azure Storage firewall limitations), so the deploy
    pool's subnet is admitted by a subnet rule."""
    subnet = ("/subscriptions/44444444-4444-4444-4444-444444444444/resourceGroups/rg-agents/providers/"
              "Microsoft.Network/virtualNetworks/vnet-agents/subnets/agents")
    out = synth(lambda s: storage(s, allowed_subnet_ids=[subnet]))
    assert only(out, "azurerm_storage_account")["network_rules"]["virtual_network_subnet_ids"] == [subnet]


@pytest.mark.parametrize(
    ("containers", "message"),
    [
        ([], "StateStorage needs at least one container, got none"),
        (["TFSTATE"], r"state container name 'TFSTATE'; allowed: 3-63 lowercase letters"),
        (["tfstate--dev"], r"state container name 'tfstate--dev'; allowed"),
        (["tfstate-dev", "tfstate-dev"], r"state container names must be unique"),
    ],
)
def test_bad_containers_are_refused(containers, message):
    with pytest.raises(ValueError, match=message):
        synth(lambda s: storage(s, containers=containers))


def test_bootstrap_settings_refuse_a_log_retention_outside_30_to_730_days():
    from infra.errors import ConfigError
    from infra.settings import BootstrapSettings

    assert BootstrapSettings().log_retention_days == 90
    with pytest.raises(ConfigError, match=r"field 'log_retention_days' = 7; allowed: 30 to 730"):
        BootstrapSettings(log_retention_days=7)


# --- the bootstrap stack's provider: no storage data plane --------------------------------------------------


def _storage_features(stack: dict) -> list[dict]:
    (provider,) = [p for p in stack["provider"]["azurerm"] if "alias" not in p]
    (features,) = provider["features"]
    return features.get("storage", [])


def test_bootstrap_manages_its_firewalled_account_without_the_storage_data_plane(synthesized):
    """issue #16 item 1. With the provider's default ``data_plane_available = true``, creating a storage account
    waits for its blob, queue, file and static-website endpoints through the data plane, and every refresh reads
    queue and static-website properties there; a 403 from the account's own default-deny firewall is fatal (only
    dropped connections are tolerated). hashicorp/terraform-provider-azurerm v4.55.0:
    internal/services/storage/storage_account_resource.go:1547 (create) and :2327 (read),
    storage_account_data_plane_helpers.go:59 (waitForDataPlaneToBecomeAvailableForAccount) and :121
    (connectionError: "dial tcp" / EOF only). With the feature off, the provider refuses queue_properties and
    static_website (storage_account_resource.go:1142-1158), so the account must set neither."""
    bootstrap = synthesized.stacks["bootstrap"]
    assert _storage_features(bootstrap) == [{"data_plane_available": False}]
    accounts = synthesized.resources("bootstrap", "azurerm_storage_account").values()  # one per region
    assert accounts
    for account in accounts:
        assert account["network_rules"]["default_action"] == "Deny"
        assert "queue_properties" not in account and "static_website" not in account
    # Containers through ARM (storage_account_id), not the data plane (storage_account_name, deprecated).
    containers = synthesized.resources("bootstrap", "azurerm_storage_container").values()
    assert containers and all("storage_account_id" in c and "storage_account_name" not in c for c in containers)


def test_every_stack_with_a_storage_account_turns_the_data_plane_off(synthesized):
    """Any stack that creates a (firewalled) storage account has the data plane off; the others keep the
    provider's default, since they have no storage account for it to touch."""
    with_accounts = {stack for stack, _, _ in synthesized.all_resources("azurerm_storage_account")}
    assert "bootstrap" in with_accounts
    features = {name: _storage_features(stack) for name, stack in synthesized.stacks.items()}
    assert features == {name: [{"data_plane_available": False}] if name in with_accounts else []
                        for name in synthesized.stacks}


# --- retiring an environment: the lock and the documented procedure (issue #16 item 5) ----------------------


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    following = text.find("\n## ", start + len(heading))
    return text[start:] if following == -1 else text[start:following]


def test_the_lock_covers_the_containers_so_retiring_is_a_documented_procedure(synthesized):
    """A CanNotDelete lock on the account applies to its child resources for control-plane calls
    (learn.microsoft.com/azure/azure-resource-manager/management/lock-resources, "Considerations before applying
    your locks"), and azurerm deletes a container given by storage_account_id through ARM
    (hashicorp/terraform-provider-azurerm v4.55.0, internal/services/storage/storage_container_resource.go:529):
    removing an environment's container fails while the lock is on. docs/security.md must give the procedure
    with this stack's lock and container: archive (needs no lock change, so the lock is off for the shortest
    time), lift, remove the container, restore."""
    from tests.conftest import REPO_ROOT

    accounts = synthesized.resources("bootstrap", "azurerm_storage_account")  # one per region
    locks = synthesized.resources("bootstrap", "azurerm_management_lock").values()
    assert sorted(lock["scope"] for lock in locks if lock["lock_level"] == "CanNotDelete") == sorted(
        f"${{azurerm_storage_account.{account_id}.id}}" for account_id in accounts)
    containers = synthesized.resources("bootstrap", "azurerm_storage_container").values()
    assert all(c["storage_account_id"] in {f"${{azurerm_storage_account.{a}.id}}" for a in accounts}
               for c in containers)
    (lock,) = [lock for lock in locks if lock["scope"] == f"${{azurerm_storage_account.{next(iter(accounts))}.id}}"]

    section = _section((REPO_ROOT / "docs" / "security.md").read_text(), "## Retiring an environment")
    assert f"`{lock['name']}`" in section
    steps = [
        "az storage blob download --auth-mode login",            # archive the state blob
        "terraform apply -destroy -target='azurerm_management_lock.",  # lift the lock
        "terraform apply -target='azurerm_storage_container.",   # remove the container
        "**Restore the lock**: `terraform apply`",               # restore it
    ]
    positions = [section.find(step) for step in steps]
    assert -1 not in positions, dict(zip(steps, positions, strict=True))
    assert positions == sorted(positions)
    readme = (REPO_ROOT / "README.md").read_text()
    assert 'docs/security.md, "Retiring an environment"' in readme
