"""PublicDnsZone: the environment zone and its NS delegation, an adopted record set in the parent zone written
through the parent zone's provider; the parent zone's configuration; external-dns's roles and what its release
waits for."""

from __future__ import annotations

import pytest
from cdktf_cdktf_provider_azurerm.provider import AzurermProvider, AzurermProviderFeatures

from building_blocks.dns import PublicDnsZone, delegation_record_id
from building_blocks.naming import NamingError
from infra.errors import ConfigError
from infra.platform_config import CONFIG_FILE, load_platform_config
from tests.blocks.azure_helpers import only, synth

PARENT_SUBSCRIPTION = "44444444-4444-4444-4444-444444444444"
RECORD_ID = (f"/subscriptions/{PARENT_SUBSCRIPTION}/resourceGroups/rg-dns/providers/Microsoft.Network/dnsZones/"
             "northwind.example/NS/dev")


def zone(stack, **overrides):
    return PublicDnsZone(
        stack,
        "dns",
        resource_group_name="rg",
        **{"label": "dev", "parent_domain": "northwind.example", "parent_resource_group_name": "rg-dns",
           "parent_subscription_id": PARENT_SUBSCRIPTION, **overrides},
    )


def test_required_inputs_make_the_zone_and_an_ns_delegation_in_the_configured_parent_zone():
    """issue #16 item 2: no data source. ``data.azurerm_dns_zone`` without a resource group lists every zone of
    the subscription (hashicorp/terraform-provider-azurerm v4.55.0, internal/services/dns/
    dns_zone_data_source.go:108-109, findZone -> ListComplete at :142-144), which needs read at subscription
    scope; the parent zone's name and resource group are passed in instead."""
    out = synth(zone)
    assert only(out, "azurerm_dns_zone")["name"] == "dev.northwind.example"
    assert "data" not in out  # no lookup of the parent zone
    record = only(out, "azurerm_dns_ns_record")
    assert (record["name"], record["zone_name"], record["resource_group_name"]) == (
        "dev", "northwind.example", "rg-dns")
    assert record["ttl"] == 3600
    assert record["records"].startswith("${tolist(azurerm_dns_zone.dns_")
    assert record["records"].endswith(".name_servers)}")
    assert "provider" not in record  # default provider when no parent provider is given


def test_the_delegation_adopts_the_record_set_the_dns_owner_created():
    """issue #16 item 2: ``azurerm_dns_ns_record`` create refuses an existing record set ("needs to be
    imported", dns_ns_record_resource.go:99-109 at v4.55.0), and the DNS owner must create it first so that the
    pipeline identity's role can be scoped to it. So the one way it comes to exist: pre-created, then imported."""
    captured = {}
    out = synth(lambda s: captured.setdefault("zone", zone(s)))
    (record_id,) = out["resource"]["azurerm_dns_ns_record"]
    assert out["import"] == [{"to": f"azurerm_dns_ns_record.{record_id}", "id": RECORD_ID}]
    assert captured["zone"].delegation_id == RECORD_ID


def test_record_id_has_the_format_azurerm_imports():
    # go-azure-sdk resource-manager/dns/2018-05-01/recordsets/id_recordtype.go (vendored at v4.55.0):
    # /subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/dnsZones/%s/%s/%s
    assert delegation_record_id(subscription_id=PARENT_SUBSCRIPTION, resource_group_name="rg-dns",
                                parent_domain="northwind.example", label="dev") == RECORD_ID


def test_parent_provider_is_used_for_the_delegation_and_its_import_but_not_the_zone():
    def build(stack):
        parent = AzurermProvider(
            stack,
            "parent",
            alias="dns_parent",
            subscription_id=PARENT_SUBSCRIPTION,
            features=[AzurermProviderFeatures()],
        )
        zone(stack, parent_provider=parent)

    out = synth(build)
    assert only(out, "azurerm_dns_ns_record")["provider"] == "azurerm.dns_parent"
    assert [block["provider"] for block in out["import"]] == ["azurerm.dns_parent"]
    assert "provider" not in only(out, "azurerm_dns_zone")


def test_the_fqdn_is_known_at_synth_time():
    captured = {}
    synth(lambda s: captured.setdefault("zone", zone(s, label="production-weu")))
    assert captured["zone"].fqdn == "production-weu.northwind.example"


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"label": "-dev"}, NamingError, r"DNS label '-dev'; allowed"),
        ({"parent_domain": "localhost"}, NamingError, r"DNS zone 'dev.localhost' is not a valid FQDN"),
        ({"delegation_ttl": 60}, ValueError, r"delegation_ttl = 60; allowed: an integer from 300 to 172800"),
        ({"parent_resource_group_name": "rg."}, ValueError,
         r"parent_resource_group_name = 'rg.'; allowed: an Azure resource group name"),
        ({"parent_resource_group_name": ""}, ValueError, r"parent_resource_group_name = ''; allowed"),
        ({"parent_subscription_id": "management"}, ValueError,
         r"parent_subscription_id = 'management'; allowed: a lowercase GUID"),
    ],
)
def test_bad_props_are_refused(overrides, error, message):
    with pytest.raises(error, match=message):
        synth(lambda s: zone(s, **overrides))


# --- the parent zone in config/platform.toml ----------------------------------------------------------------


def _config_with(tmp_path, old: str, new: str):
    path = tmp_path / "platform.toml"
    text = CONFIG_FILE.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return path


def test_the_parent_zone_resource_group_is_company_configuration():
    config = load_platform_config()
    assert config.dns_parent_resource_group == "rg-nwt-mgmt-weu-dns"


@pytest.mark.parametrize(("old", "new", "message"), [
    ('parent_resource_group = "rg-nwt-mgmt-weu-dns"', 'parent_resource_group = "rg dns"',
     r"\[dns\] parent_resource_group = 'rg dns'; allowed: an Azure resource group name"),
    ('parent_resource_group = "rg-nwt-mgmt-weu-dns"', 'parent_resource_group = ""',
     r"\[dns\] parent_resource_group = '' is a string; allowed: a non-empty string"),
    ("[dns]\nparent_resource_group", "[dns]\nresource_group", r"\[dns\] parent_resource_group is missing"),
])
def test_a_bad_parent_zone_configuration_names_the_key_and_what_is_allowed(tmp_path, old, new, message):
    with pytest.raises(ConfigError, match=message):
        load_platform_config(_config_with(tmp_path, old, new))


# --- in the composed environments ---------------------------------------------------------------------------


def test_every_cluster_environment_delegates_its_zone_from_the_management_subscription(synthesized, registry):
    config = registry.config
    management = config.subscriptions["management"]
    for env in (e for e in registry.environments if e.has_azure_cluster):
        stack = synthesized.stacks[env.name]
        zone_body = next(iter(synthesized.resources(env.name, "azurerm_dns_zone").values()))
        assert zone_body["name"] == f"{env.dns_label}.{config.domain}"
        aliased = [p for p in stack["provider"]["azurerm"] if p.get("alias") == "dns_parent"]
        assert [p["subscription_id"] for p in aliased] == [management]
        (record_id, record), = synthesized.resources(env.name, "azurerm_dns_ns_record").items()
        assert (record["name"], record["provider"]) == (env.dns_label, "azurerm.dns_parent")
        assert (record["zone_name"], record["resource_group_name"]) == (config.domain,
                                                                          config.dns_parent_resource_group)
        assert stack["import"] == [{
            "to": f"azurerm_dns_ns_record.{record_id}", "provider": "azurerm.dns_parent",
            "id": delegation_record_id(subscription_id=management,
                                       resource_group_name=config.dns_parent_resource_group,
                                       parent_domain=config.domain, label=str(env.dns_label))}]
        assert "azurerm_dns_zone" not in stack.get("data", {}), env.name
    assert "azurerm_dns_zone" not in synthesized.stacks["onprem"].get("resource", {})


# --- external-dns: the tutorial's roles, and a release that waits for them (issue #12 defect 1) -------------


def _by_role(synthesized, env: str) -> dict[str, tuple[str, dict]]:
    return {body["role_definition_name"]: (key, body)
            for key, body in synthesized.resources(env, "azurerm_role_assignment").items()
            if "external_dns" in key}


def test_external_dns_gets_reader_on_the_zones_own_resource_group_and_zone_contributor_on_the_zone(
        synthesized, registry):
    """external-dns lists zones per resource group (kubernetes-sigs/external-dns provider/azure/azure.go at chart
    1.20.0: NewListByResourceGroupPager, line 183), so its Azure tutorial (docs/tutorials/azure.md, "Assign a role
    to the managed identity", and line 84) grants Reader on the zone's resource group and DNS Zone Contributor on
    the zone. The zone has a group of its own, so Reader there reads nothing but the zone."""
    for env in (e.name for e in registry.environments if e.has_azure_cluster):
        groups = synthesized.resources(env, "azurerm_resource_group")
        (dns_group_id,) = [key for key, body in groups.items() if body["name"].endswith("-dns")]
        (zone_id, zone_body), = synthesized.resources(env, "azurerm_dns_zone").items()
        assert zone_body["resource_group_name"] == f"${{azurerm_resource_group.{dns_group_id}.name}}"
        roles = _by_role(synthesized, env)
        assert set(roles) == {"Reader", "DNS Zone Contributor"}, env
        assert roles["Reader"][1]["scope"] == f"${{azurerm_resource_group.{dns_group_id}.id}}"
        assert roles["DNS Zone Contributor"][1]["scope"] == f"${{azurerm_dns_zone.{zone_id}.id}}"
        principals = {body["principal_id"] for _, body in roles.values()}
        (identity_id,) = [key for key, body in synthesized.resources(env, "azurerm_user_assigned_identity").items()
                          if body["name"].endswith("-externaldns")]
        assert principals == {f"${{azurerm_user_assigned_identity.{identity_id}.principal_id}}"}
        # The zone's group is what external-dns is told to list (azure.json resourceGroup).
        (config_map,) = [b for b in synthesized.resources(env, "kubernetes_config_map_v1").values()
                         if b["metadata"]["name"] == "external-dns-azure"]
        assert f"azurerm_resource_group.{dns_group_id}.name" in config_map["data"]["azure.json"]


def test_the_external_dns_release_waits_for_its_federated_credential_and_its_roles(synthesized, registry):
    """The release must not start before the identity can sign in (federated credential) and list and write
    the zone (both roles, and the wait for them to take effect); otherwise external-dns exits, the pod
    crash-loops and the atomic release rolls back."""
    for env in (e.name for e in registry.environments if e.has_azure_cluster):
        (release,) = [b for b in synthesized.resources(env, "helm_release").values()
                      if b["name"] == "external-dns"]
        waits_for = set(release["depends_on"])
        (federation,) = synthesized.resources(env, "azurerm_federated_identity_credential")
        assert f"azurerm_federated_identity_credential.{federation}" in waits_for, env
        roles = {f"azurerm_role_assignment.{key}" for key, _ in _by_role(synthesized, env).values()}
        sleeps = {f"time_sleep.{key}": body for key, body in synthesized.resources(env, "time_sleep").items()}
        (wait,) = [name for name, body in sleeps.items() if set(body["depends_on"]) == roles]
        assert wait in waits_for, env


# --- the documented roles match what the stacks assign (issue #16 item 5, per-identity docs) -----------------


def test_the_security_docs_limit_the_pipelines_rbac_administrator_to_exactly_the_roles_the_stacks_assign(
        synthesized):
    """docs/security.md, "Roles per identity": the pipeline's Role Based Access Control Administrator condition
    lists the roles it may assign. A role the stacks assign but the condition omits fails the first apply with
    403; one listed but never assigned is privilege nobody needs."""
    import re

    from tests.conftest import REPO_ROOT

    assigned = {body["role_definition_name"] for _, _, body in synthesized.all_resources("azurerm_role_assignment")}
    text = (REPO_ROOT / "docs" / "security.md").read_text()
    (row,) = [line for line in text.splitlines()
              if line.startswith("| pipeline | Role Based Access Control Administrator")]
    listed = re.search(r"the roles the stack assigns: ([^|]+)\|", row).group(1)
    assert {role.strip() for role in listed.split(",")} == assigned
    (dns_row,) = [line for line in text.splitlines() if line.startswith("| pipeline (environments with an AKS "
                                                                            "cluster) | DNS Zone Contributor")]
    assert "the NS record set `<dns_label>` in the parent zone" in dns_row
