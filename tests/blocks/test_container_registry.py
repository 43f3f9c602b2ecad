"""ContainerRegistry: no admin user, no anonymous pull; Premium adds a closed firewall, a private endpoint."""

from __future__ import annotations

import pytest

from building_blocks.container_registry import ContainerRegistry
from tests.blocks.azure_helpers import NAMER, SUBNET_ID, VNET_ID, only, resources, synth


def registry(stack, **overrides):
    return ContainerRegistry(
        stack, "container_registry", namer=NAMER, resource_group_name="rg", location="westeurope", **overrides
    )


def premium(stack, **overrides):
    return registry(
        stack,
        **{
            "sku": "Premium",
            "allowed_ip_ranges": ["203.0.113.0/24"],
            "private_endpoint_subnet_id": SUBNET_ID,
            "virtual_network_id": VNET_ID,
            **overrides,
        },
    )


def test_required_inputs_make_a_standard_registry_with_admin_and_anonymous_pull_off():
    out = synth(registry)
    body = only(out, "azurerm_container_registry")
    assert body["sku"] == "Standard"
    assert body["admin_enabled"] is False
    assert body["anonymous_pull_enabled"] is False
    assert body["name"].startswith("crnwttest") and len(body["name"]) == len("crnwttest") + 4
    assert "network_rule_set" not in body  # below Premium there is no firewall to configure
    assert resources(out, "azurerm_private_endpoint") == {}
    assert resources(out, "azurerm_role_assignment") == {}


def test_premium_denies_by_default_and_allows_only_the_given_ranges():
    body = only(synth(premium), "azurerm_container_registry")
    assert body["network_rule_set"] == [
        {"default_action": "Deny", "ip_rule": [{"action": "Allow", "ip_range": "203.0.113.0/24"}]}
    ]
    assert body["public_network_access_enabled"] is True  # the pipeline pushes through the firewall
    assert body["network_rule_bypass_option"] == "AzureServices"
    assert (
        body["data_endpoint_enabled"],
        body["zone_redundancy_enabled"],
        body["retention_policy_in_days"],
    ) == (True, True, 7)


def test_premium_private_endpoint_lands_in_the_subnet_with_a_linked_privatelink_zone():
    out = synth(premium)
    endpoint = only(out, "azurerm_private_endpoint")
    assert endpoint["subnet_id"] == SUBNET_ID
    assert endpoint["name"] == "pep-nwt-test-weu-acr"
    assert endpoint["private_service_connection"]["subresource_names"] == ["registry"]
    assert endpoint["private_service_connection"]["is_manual_connection"] is False
    assert only(out, "azurerm_private_dns_zone")["name"] == "privatelink.azurecr.io"
    link = only(out, "azurerm_private_dns_zone_virtual_network_link")
    assert (link["virtual_network_id"], link["registration_enabled"]) == (VNET_ID, False)


def test_premium_with_a_private_endpoint_and_no_ranges_closes_the_public_endpoint():
    body = only(synth(lambda s: premium(s, allowed_ip_ranges=())), "azurerm_container_registry")
    assert body["public_network_access_enabled"] is False


def test_grant_pull_gives_acr_pull_on_the_registry():
    out = synth(lambda s: registry(s).grant_pull("kubelet", "object-id"))
    assignment = only(out, "azurerm_role_assignment")
    assert assignment["role_definition_name"] == "AcrPull"
    assert assignment["principal_id"] == "object-id"
    assert assignment["scope"].startswith("${azurerm_container_registry.") and assignment["scope"].endswith(
        ".id}"
    )


# --- one test per error -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda s: registry(s, sku="Free"), r"sku = 'Free'; allowed: Basic, Standard, Premium"),
        (
            lambda s: registry(s, sku="Premium", allowed_ip_ranges=["203.0.113.1/24"]),
            r"allowed_ip_ranges entry '203.0.113.1/24'; allowed: IPv4",
        ),
        (
            lambda s: registry(s, allowed_ip_ranges=["203.0.113.0/24"]),
            r"allowed_ip_ranges = \['203.0.113.0/24'\] with sku 'Standard'; "
            r"allowed: ranges only with sku 'Premium'",
        ),
        (
            lambda s: registry(s, sku="Premium", private_endpoint_subnet_id=SUBNET_ID),
            r"private_endpoint_subnet_id and virtual_network_id: supply both or neither",
        ),
        (
            lambda s: registry(s, private_endpoint_subnet_id=SUBNET_ID, virtual_network_id=VNET_ID),
            r"private_endpoint_subnet_id with sku 'Standard'; "
            r"allowed: private endpoints only with sku 'Premium'",
        ),
        (
            lambda s: registry(s, untagged_retention_days=400),
            r"untagged_retention_days = 400; allowed: an integer",
        ),
    ],
)
def test_bad_props_are_refused(build, message):
    with pytest.raises(ValueError, match=message):
        synth(build)


def test_a_grant_id_is_used_once():
    def build(stack):
        block = registry(stack)
        block.grant_pull("kubelet", "a")
        block.grant_pull("kubelet", "b")

    with pytest.raises(ValueError, match=r"grant_pull id 'kubelet' is already used"):
        synth(build)
