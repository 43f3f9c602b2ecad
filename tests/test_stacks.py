"""Backends, Terraform version, names and tags across every synthesized stack."""

from __future__ import annotations

import re

import cdktf

from building_blocks.tags import is_taggable
from infra.stacks import TERRAFORM_REQUIRED_VERSION, BootstrapStack
from infra.state import state_account

BASE_TAGS = {"environment", "owner", "cost-centre", "managed-by", "repository"}


def test_every_environment_has_its_own_azurerm_backend_with_azuread_auth(synthesized, registry):
    locations = set()
    for env in registry.environments:
        group, account = state_account(registry.config, env.location)  # the account of its own region
        backend = synthesized.stacks[env.name]["terraform"]["backend"]
        assert list(backend) == ["azurerm"], env.name
        azurerm = backend["azurerm"]
        assert azurerm["use_azuread_auth"] is True
        assert "access_key" not in azurerm and "sas_token" not in azurerm
        assert (azurerm["resource_group_name"], azurerm["storage_account_name"]) == (group, account)
        assert azurerm["container_name"] == f"tfstate-{env.name}"
        assert azurerm["key"] == f"{env.name}.tfstate"
        locations.add((azurerm["container_name"], azurerm["key"]))
    assert len(locations) == len(registry.environments)


def test_bootstrap_uses_a_local_backend_outside_cdktf_out(synthesized):
    backend = synthesized.stacks["bootstrap"]["terraform"]["backend"]
    assert backend == {"local": {"path": BootstrapStack.LOCAL_STATE_PATH}}
    assert BootstrapStack.LOCAL_STATE_PATH.startswith("../../../bootstrap-state/")


def test_bootstrap_creates_a_container_for_every_environment_backend(synthesized, registry):
    containers = {body["name"] for _, _, body in synthesized.all_resources("azurerm_storage_container")}
    backends = {synthesized.stacks[e.name]["terraform"]["backend"]["azurerm"]["container_name"]
                for e in registry.environments}
    assert backends == containers


def test_state_lives_in_the_region_of_its_environment_so_a_region_loss_stays_local(synthesized, registry):
    """issue 17, item 3: with every state in one West Europe account, a West Europe outage stopped production-neu
    too (no state lock without the primary endpoint). Each region's environments now have their state in an
    account in that region, holding only their containers."""
    bootstrap = synthesized.resources("bootstrap", "azurerm_storage_account")
    accounts = {body["name"]: (logical_id, body["location"]) for logical_id, body in bootstrap.items()}
    containers = synthesized.resources("bootstrap", "azurerm_storage_container")
    regions = {e.location for e in registry.environments}
    assert sorted(location for _, location in accounts.values()) == sorted(regions)
    assert len(regions) > 1  # production-weu and production-neu are in different regions
    for env in registry.environments:
        backend = synthesized.stacks[env.name]["terraform"]["backend"]["azurerm"]
        logical_id, location = accounts[backend["storage_account_name"]]
        assert location == env.location, env.name
        (container,) = [c for c in containers.values() if c["name"] == backend["container_name"]]
        assert container["storage_account_id"] == f"${{azurerm_storage_account.{logical_id}.id}}", env.name
    weu, neu = (synthesized.stacks[name]["terraform"]["backend"]["azurerm"]["storage_account_name"]
                for name in ("production-weu", "production-neu"))
    assert weu != neu


def test_the_primary_state_account_keeps_its_names_and_terraform_addresses(synthesized, registry):
    """The accounts existing environments use must not move: the primary region's account keeps the name of the
    one-account design and its resources keep their construct ids (a new address would plan a replacement)."""
    config = registry.config
    group, account = state_account(config)
    assert account == state_account(config, config.state_location)[1]
    assert "tfstate" in account and state_account(config, "northeurope")[1] != account
    (primary,) = [body for body in synthesized.resources("bootstrap", "azurerm_storage_account").values()
                  if body["name"] == account]
    assert primary["//"]["metadata"]["path"] == "bootstrap/state/Resource"
    assert synthesized.resources("bootstrap", "azurerm_resource_group")["resource_group"]["name"] == group


def test_an_apply_never_deletes_a_state_container(synthesized):
    containers = synthesized.resources("bootstrap", "azurerm_storage_container")
    assert containers
    assert [name for name, c in containers.items() if c.get("lifecycle", {}).get("prevent_destroy") is not True] == []


def test_state_storage_is_hardened(synthesized):
    accounts = synthesized.resources("bootstrap", "azurerm_storage_account")
    locks = synthesized.resources("bootstrap", "azurerm_management_lock").values()
    assert accounts
    for logical_id, account in accounts.items():  # one per region
        assert account["min_tls_version"] == "TLS1_2"
        assert account["https_traffic_only_enabled"] is True
        assert account["allow_nested_items_to_be_public"] is False
        assert account["shared_access_key_enabled"] is False
        assert account["blob_properties"]["versioning_enabled"] is True
        assert account["blob_properties"]["delete_retention_policy"]["days"] >= 7
        assert account["blob_properties"]["container_delete_retention_policy"]["days"] >= 7
        assert account["network_rules"]["default_action"] == "Deny"
        assert [lock["lock_level"] for lock in locks
                if lock["scope"] == f"${{azurerm_storage_account.{logical_id}.id}}"] == ["CanNotDelete"]
    for _, _, container in synthesized.all_resources("azurerm_storage_container"):
        assert container["container_access_type"] == "private"


def test_terraform_version_is_pinned_in_every_stack(synthesized):
    for name, stack in synthesized.stacks.items():
        assert stack["terraform"]["required_version"] == TERRAFORM_REQUIRED_VERSION, name
    assert re.match(r"^>= 1\.11\.\d+, < 2\.0\.0$", TERRAFORM_REQUIRED_VERSION)


def test_every_taggable_azure_resource_carries_the_standard_tags(synthesized, registry):
    checked = 0
    for stack in synthesized.app.node.children:
        if not isinstance(stack, cdktf.TerraformStack):
            continue
        name = stack.node.id
        expected_environment = "mgmt" if name == "bootstrap" else name
        extra = {} if name == "bootstrap" else dict(registry.get(name).extra_tags)
        for node in stack.node.find_all():
            if not is_taggable(node):
                continue
            body = synthesized.stacks[name]["resource"][node.terraform_resource_type][node.friendly_unique_id]
            tags = body.get("tags", {})
            assert set(tags) >= BASE_TAGS, f"{name} {node.node.path}: {tags}"
            assert tags["environment"] == expected_environment
            assert tags["managed-by"] == "cdktf"
            assert extra.items() <= tags.items()
            checked += 1
    assert checked >= len(synthesized.stacks) - 1  # at least the resource groups (onprem may have none)


def test_enterprise_tags_add_the_customer(synthesized):
    groups = synthesized.resources("enterprise-contoso", "azurerm_resource_group")
    assert all(group["tags"]["customer"] == "contoso" for group in groups.values())


def test_resource_names_are_unique_per_type_across_stacks(synthesized):
    """Two environments must never claim one Azure name (globally unique kinds and same-scope ones)."""
    for resource_type in ("azurerm_resource_group", "azurerm_storage_account", "azurerm_key_vault",
                          "azurerm_container_registry", "azurerm_kubernetes_cluster",
                          "azurerm_postgresql_flexible_server"):
        names = [(body["name"], stack) for stack, _, body in synthesized.all_resources(resource_type)
                 if isinstance(body.get("name"), str) and "${" not in body["name"]]
        seen: dict[str, str] = {}
        for name, stack in names:
            assert name not in seen or seen[name] == stack, f"{resource_type} {name}: {seen[name]} and {stack}"
            seen[name] = stack


def test_the_deploying_identity_may_pull_charts_from_its_registry(synthesized, registry):
    """The helm provider pulls the company's OCI charts as whoever runs Terraform (the pipeline identity)."""
    for env in registry.environments:
        if not env.has_azure_cluster:
            continue
        pulls = [body for body in synthesized.resources(env.name, "azurerm_role_assignment").values()
                 if body["role_definition_name"] == "AcrPull"]
        principals = {body["principal_id"] for body in pulls}
        assert "${data.azurerm_client_config.client_config.object_id}" in principals, env.name
        assert all(body["scope"].startswith("${azurerm_container_registry.") for body in pulls)
