"""KeyVault: RBAC only, purge protection as asked, a deny-by-default firewall, role grants."""

from __future__ import annotations

import pytest

from building_blocks.key_vault import KeyVault
from tests.blocks.azure_helpers import SUBNET_ID, TENANT, VNET_ID, children, only, resources, synth


def vault(stack, **overrides):
    return KeyVault(
        stack,
        "key_vault",
        name="kv-nwt-test-1234",
        resource_group_name="rg",
        location="westeurope",
        tenant_id=TENANT,
        deployer_object_id="deployer-object-id",
        **overrides,
    )


def test_required_inputs_make_an_rbac_vault_with_purge_protection_and_a_closed_firewall():
    out = synth(vault)
    body = only(out, "azurerm_key_vault")
    assert body["rbac_authorization_enabled"] is True
    assert "enable_rbac_authorization" not in body  # the deprecated name is not used
    assert "access_policy" not in body
    assert body["purge_protection_enabled"] is True
    assert body["soft_delete_retention_days"] == 90
    assert body["sku_name"] == "standard"
    assert body["network_acls"] == {
        "default_action": "Deny",
        "bypass": "AzureServices",
        "ip_rules": [],
        "virtual_network_subnet_ids": [],
    }
    assert (
        body["enabled_for_deployment"],
        body["enabled_for_disk_encryption"],
        body["enabled_for_template_deployment"],
    ) == (False, False, False)
    # No firewall rule needs the public endpoint: it is off.
    assert body["public_network_access_enabled"] is False
    assert not resources(out, "azurerm_private_endpoint")


def test_the_deployer_is_secrets_officer_on_the_vault():
    grant = only(synth(vault), "azurerm_role_assignment")
    assert grant["role_definition_name"] == "Key Vault Secrets Officer"
    assert grant["principal_id"] == "deployer-object-id"
    assert "principal_type" not in grant  # a user locally, a service principal in the pipeline
    assert grant["scope"].startswith("${azurerm_key_vault.") and grant["scope"].endswith(".id}")


def test_firewall_admits_the_given_ranges_and_subnets_and_single_addresses_drop_the_prefix():
    body = only(
        synth(
            lambda s: vault(s, allowed_ip_ranges=["203.0.113.0/24", "198.51.100.7/32"], allowed_subnet_ids=[SUBNET_ID])
        ),
        "azurerm_key_vault",
    )
    assert body["network_acls"]["ip_rules"] == ["203.0.113.0/24", "198.51.100.7"]
    assert body["network_acls"]["virtual_network_subnet_ids"] == [SUBNET_ID]
    assert body["network_acls"]["default_action"] == "Deny"
    assert body["public_network_access_enabled"] is True  # only for the firewall's rules


def test_private_endpoint_resolves_through_a_linked_privatelink_zone():
    def build(stack):
        vault(stack).add_private_endpoint(
            name="pep-nwt-test-weu-kv",
            dns_link_name="pdnslink-nwt-test-weu-kv",
            resource_group_name="rg",
            location="westeurope",
            subnet_id=SUBNET_ID,
            virtual_network_id=VNET_ID,
        )

    out = synth(build)
    endpoint = only(out, "azurerm_private_endpoint")
    assert endpoint["name"] == "pep-nwt-test-weu-kv"
    assert endpoint["subnet_id"] == SUBNET_ID
    connection = endpoint["private_service_connection"]
    assert connection["subresource_names"] == ["vault"]
    assert connection["is_manual_connection"] is False
    assert connection["private_connection_resource_id"].startswith("${azurerm_key_vault.")
    zone = only(out, "azurerm_private_dns_zone")
    assert zone["name"] == "privatelink.vaultcore.azure.net"
    link = only(out, "azurerm_private_dns_zone_virtual_network_link")
    assert (link["virtual_network_id"], link["registration_enabled"]) == (VNET_ID, False)
    (zone_id,) = resources(out, "azurerm_private_dns_zone")
    assert endpoint["private_dns_zone_group"]["private_dns_zone_ids"] == [f"${{azurerm_private_dns_zone.{zone_id}.id}}"]
    assert only(out, "azurerm_key_vault")["public_network_access_enabled"] is False


def test_a_second_private_endpoint_is_refused():
    def build(stack):
        block = vault(stack)
        options = {
            "dns_link_name": "l",
            "resource_group_name": "rg",
            "location": "westeurope",
            "subnet_id": SUBNET_ID,
            "virtual_network_id": VNET_ID,
        }
        block.add_private_endpoint(name="pep-a", **options)
        block.add_private_endpoint(name="pep-b", **options)

    with pytest.raises(ValueError, match=r"name 'pep-b': the vault already has a private endpoint; allowed: one"):
        synth(build)


def test_purge_protection_can_be_off_for_dev():
    body = only(synth(lambda s: vault(s, purge_protection=False, soft_delete_retention_days=7)), "azurerm_key_vault")
    assert (body["purge_protection_enabled"], body["soft_delete_retention_days"]) == (False, 7)


def test_grant_secrets_user_reads_and_officer_writes():
    def build(stack):
        block = vault(stack)
        block.grant_secrets_user("csi", "csi-object-id")
        block.grant_secrets_officer("rotator", "rotator-object-id")

    grants = children(synth(build), "azurerm_role_assignment", "key_vault")
    assert {
        key: (g["role_definition_name"], g["principal_id"], g.get("principal_type")) for key, g in grants.items()
    } == {
        "role_deployer": ("Key Vault Secrets Officer", "deployer-object-id", None),
        "role_csi": ("Key Vault Secrets User", "csi-object-id", "ServicePrincipal"),
        "role_rotator": ("Key Vault Secrets Officer", "rotator-object-id", "ServicePrincipal"),
    }


# --- one test per error -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"soft_delete_retention_days": 6},
            r"soft_delete_retention_days = 6; allowed: an integer from 7 to 90",
        ),
        ({"allowed_ip_ranges": ["2001:db8::/32"]}, r"allowed_ip_ranges entry '2001:db8::/32'; allowed: IPv4"),
        (
            {"allowed_ip_ranges": ["203.0.113.0/31"]},
            r"allowed_ip_ranges entry '203.0.113.0/31'; allowed: a prefix up",
        ),
        ({"allowed_ip_ranges": ["203.0.113.7", "203.0.113.7/32"]}, r"allowed: each range once"),
    ],
)
def test_bad_props_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        synth(lambda s: vault(s, **overrides))


def test_a_grant_id_is_used_once():
    with pytest.raises(ValueError, match=r"grant id 'deployer' is already used"):
        synth(lambda s: vault(s).grant_secrets_user("deployer", "x"))


def test_a_grant_principal_type_must_be_known():
    with pytest.raises(ValueError, match=r"principal_type = 'Robot'; allowed: ServicePrincipal, User, Group"):
        synth(lambda s: vault(s).grant_secrets_user("csi", "x", principal_type="Robot"))


def test_data_plane_ready_waits_after_the_officer_assignment():
    """issue #16 item 4: a time_sleep between the deployer's Secrets Officer assignment and the first secret
    write, re-run when the assignment is replaced (its id is a trigger)."""
    out = synth(vault)
    (logical_id,) = resources(out, "azurerm_role_assignment")
    sleep = only(out, "time_sleep")
    assert sleep["create_duration"] == "600s"  # Key Vault's documented "up to 10 minutes (600 seconds)"
    assert sleep["depends_on"] == [f"azurerm_role_assignment.{logical_id}"]
    assert sleep["triggers"] == {"assignment_0": f"${{azurerm_role_assignment.{logical_id}.id}}"}
    assert "destroy_duration" not in sleep


@pytest.mark.parametrize("seconds", [0, 1801, True, "600"])
def test_the_propagation_wait_must_be_a_sane_number_of_seconds(seconds):
    with pytest.raises(ValueError, match=r"seconds = .*; allowed: an integer from 1 to 1800"):
        synth(lambda s: vault(s, rbac_propagation_seconds=seconds))


# --- in the composed environments ---------------------------------------------------------------------------


def test_every_environment_has_one_vault_and_external_ones_only_a_group_and_a_vault(synthesized, registry):
    for env in registry.environments:
        vaults = synthesized.resources(env.name, "azurerm_key_vault")
        assert len(vaults) == 1, env.name
        body = next(iter(vaults.values()))
        assert body["purge_protection_enabled"] is (env.kind != "dev"), env.name
        assert body["rbac_authorization_enabled"] is True
        assert body["network_acls"]["default_action"] == "Deny"
        # The pipeline writes the generated secrets' backup here: the deploy pool's egress must be let in
        # (config/platform.toml [pipelines]), then the environment's own ranges.
        expected = list(registry.config.allowed_ip_ranges(env.pipeline_ip_ranges or ()))
        assert body["network_acls"]["ip_rules"] == expected, env.name
        assert registry.config.agent_egress_ranges and expected[: len(registry.config.agent_egress_ranges)] == list(
            registry.config.agent_egress_ranges), env.name
        if not env.has_azure_cluster:
            types = set(synthesized.stacks[env.name]["resource"])
            assert {"azurerm_resource_group", "azurerm_key_vault"} <= types
            assert not {t for t in types if t.startswith("azurerm_")} - {
                "azurerm_resource_group",
                "azurerm_key_vault",
                "azurerm_role_assignment",
                "azurerm_key_vault_secret",
                # the vault's audit log (every environment has one)
                "azurerm_log_analytics_workspace",
                "azurerm_monitor_diagnostic_setting",
            }


def test_no_secret_is_written_before_the_officer_role_can_have_taken_effect(synthesized, registry):
    """issue #16 item 4. azurerm's role assignment create returns once ARM returns the assignment five times in
    a row (hashicorp/terraform-provider-azurerm v4.55.0, internal/services/authorization/
    role_assignment_resource.go:393-408), but Key Vault's data plane may refuse the role for up to 10 minutes,
    and the secret create fails on that 403 (ForbiddenByRbac) without retrying
    (internal/services/keyvault/key_vault_secret_resource.go:143-147, :186-220). So every Key Vault secret
    depends on the time_sleep that depends on the officer assignment, and the stack pins the time provider."""
    for env in registry.environments:
        stack = synthesized.stacks[env.name]
        assert stack["terraform"]["required_providers"]["time"] == {"source": "hashicorp/time",
                                                                   "version": "0.13.1"}, env.name
        (officer,) = [key for key, body in synthesized.resources(env.name, "azurerm_role_assignment").items()
                      if body["role_definition_name"] == "Key Vault Secrets Officer"]
        (sleep_id,) = [key for key, body in synthesized.resources(env.name, "time_sleep").items()
                       if body["depends_on"] == [f"azurerm_role_assignment.{officer}"]]
        secrets = synthesized.resources(env.name, "azurerm_key_vault_secret")
        assert secrets, env.name
        assert all(body["depends_on"] == [f"time_sleep.{sleep_id}"] for body in secrets.values()), env.name


def test_every_vault_sends_its_audit_log_to_the_environments_workspace(synthesized, registry):
    for env in registry.environments:
        (vault_id,) = synthesized.resources(env.name, "azurerm_key_vault")
        audits = [
            body
            for body in synthesized.resources(env.name, "azurerm_monitor_diagnostic_setting").values()
            if body["target_resource_id"] == f"${{azurerm_key_vault.{vault_id}.id}}"
        ]
        assert len(audits) == 1, env.name
        assert audits[0]["enabled_log"] == [{"category_group": "audit"}]
        assert audits[0]["log_analytics_workspace_id"].startswith("${azurerm_log_analytics_workspace.")


def test_cluster_environments_reach_the_vault_privately_and_grant_the_csi_identity(synthesized, registry):
    for env in (e for e in registry.environments if e.has_azure_cluster):
        vault = next(iter(synthesized.resources(env.name, "azurerm_key_vault").values()))
        assert vault["network_acls"]["virtual_network_subnet_ids"] == list(registry.config.agent_subnet_ids)
        expected = list(registry.config.allowed_ip_ranges(env.pipeline_ip_ranges or ()))
        assert vault["network_acls"]["ip_rules"] == expected
        (endpoint,) = (
            body
            for key, body in synthesized.resources(env.name, "azurerm_private_endpoint").items()
            if key.startswith("key_vault_")
        )
        assert endpoint["subnet_id"].startswith("${azurerm_subnet.network_subnet_endpoints_")
        assert endpoint["private_service_connection"]["subresource_names"] == ["vault"]
        roles = {
            body["role_definition_name"]: body["principal_id"]
            for key, body in synthesized.resources(env.name, "azurerm_role_assignment").items()
            if key.startswith("key_vault_")
        }
        assert roles["Key Vault Secrets Officer"] == "${data.azurerm_client_config.client_config.object_id}"
        assert roles["Key Vault Secrets User"].endswith(".key_vault_secrets_provider[0].secret_identity[0].object_id}")


# --- settings of the vault (infra/settings.py) --------------------------------------------------------------


def _settings(**overrides):
    from infra.settings import EnvironmentSettings

    return EnvironmentSettings(**{"name": "alpha", "kind": "dev", "address_space": "10.50.0.0/16", **overrides})


def test_pipeline_ranges_default_to_the_ipv4_authorized_ranges():
    settings = _settings(api_server_authorized_ip_ranges=("203.0.113.0/24", "2001:db8::/48"))
    assert settings.pipeline_ip_ranges == ("203.0.113.0/24",)
    assert _settings().pipeline_ip_ranges == ()
    assert _settings(pipeline_ip_ranges=("198.51.100.7",)).pipeline_ip_ranges == ("198.51.100.7",)


def test_purge_protection_is_off_only_in_dev():
    assert _settings().purge_protection is False
    assert _settings(name="beta", kind="staging").purge_protection is True


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"pipeline_ip_ranges": ("2001:db8::/48",)},
            r"field 'pipeline_ip_ranges' = '2001:db8::/48'; allowed: IPv4",
        ),
        (
            {"pipeline_ip_ranges": ["203.0.113.0/24"]},
            r"field 'pipeline_ip_ranges' = \['203.0.113.0/24'\]; allowed: a "
            r"tuple",
        ),
    ],
)
def test_settings_refuse_bad_pipeline_ranges(overrides, message):
    from infra.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        _settings(**overrides)
