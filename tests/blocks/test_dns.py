"""PublicDnsZone: the environment zone and its NS delegation, written through the parent zone's provider."""

from __future__ import annotations

import pytest
from cdktf_cdktf_provider_azurerm.provider import AzurermProvider, AzurermProviderFeatures

from building_blocks.dns import PublicDnsZone
from building_blocks.naming import NamingError
from tests.blocks.azure_helpers import only, synth


def zone(stack, **overrides):
    return PublicDnsZone(
        stack,
        "dns",
        resource_group_name="rg",
        **{"label": "dev", "parent_domain": "northwind.example", **overrides},
    )


def test_required_inputs_make_the_zone_and_an_ns_delegation_in_the_parent_zone():
    out = synth(zone)
    assert only(out, "azurerm_dns_zone")["name"] == "dev.northwind.example"
    parent = next(iter(out["data"]["azurerm_dns_zone"].values()))
    assert parent == {"name": "northwind.example"}  # looked up by name: no resource group to configure
    record = only(out, "azurerm_dns_ns_record")
    assert record["name"] == "dev"
    assert record["ttl"] == 3600
    assert record["zone_name"].startswith("${data.azurerm_dns_zone.dns_parent_") and record[
        "zone_name"
    ].endswith(".name}")
    assert record["resource_group_name"].endswith(".resource_group_name}")
    assert record["records"].startswith("${tolist(azurerm_dns_zone.dns_")
    assert record["records"].endswith(".name_servers)}")
    assert "provider" not in record  # default provider when no parent provider is given


def test_parent_provider_is_used_for_the_lookup_and_the_delegation_but_not_the_zone():
    def build(stack):
        parent = AzurermProvider(
            stack,
            "parent",
            alias="dns_parent",
            subscription_id="44444444-4444-4444-4444-444444444444",
            features=[AzurermProviderFeatures()],
        )
        zone(stack, parent_provider=parent)

    out = synth(build)
    assert next(iter(out["data"]["azurerm_dns_zone"].values()))["provider"] == "azurerm.dns_parent"
    assert only(out, "azurerm_dns_ns_record")["provider"] == "azurerm.dns_parent"
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
    ],
)
def test_bad_props_are_refused(overrides, error, message):
    with pytest.raises(error, match=message):
        synth(lambda s: zone(s, **overrides))


# --- in the composed environments ---------------------------------------------------------------------------


def test_every_cluster_environment_delegates_its_zone_from_the_management_subscription(synthesized, registry):
    management = registry.config.subscriptions["management"]
    for env in (e for e in registry.environments if e.has_azure_cluster):
        stack = synthesized.stacks[env.name]
        zone = next(iter(synthesized.resources(env.name, "azurerm_dns_zone").values()))
        assert zone["name"] == f"{env.dns_label}.{registry.config.domain}"
        aliased = [p for p in stack["provider"]["azurerm"] if p.get("alias") == "dns_parent"]
        assert [p["subscription_id"] for p in aliased] == [management]
        record = next(iter(synthesized.resources(env.name, "azurerm_dns_ns_record").values()))
        assert (record["name"], record["provider"]) == (env.dns_label, "azurerm.dns_parent")
    assert "azurerm_dns_zone" not in synthesized.stacks["onprem"].get("resource", {})
