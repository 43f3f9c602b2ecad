"""Network: the subnet layout, NSG rules, and non-overlapping address spaces across environments."""

from __future__ import annotations

import ipaddress
import textwrap

import pytest

from building_blocks.network import Network, subnet_layout
from infra.errors import ConfigError
from infra.registry import load_registry
from tests.blocks.azure_helpers import NAMER, children, only, resources, synth


def network(stack, **overrides):
    return Network(
        stack,
        "network",
        namer=NAMER,
        resource_group_name="rg",
        location="westeurope",
        **{"address_space": "10.10.0.0/16", **overrides},
    )


def rules_by_name(group: dict) -> dict[str, dict]:
    return {rule["name"]: rule for rule in group["security_rule"]}


# --- only the required inputs -------------------------------------------------------------------------------


def test_required_inputs_make_a_vnet_with_three_subnets_of_the_documented_layout():
    out = synth(network)
    assert only(out, "azurerm_virtual_network")["address_space"] == ["10.10.0.0/16"]
    assert only(out, "azurerm_virtual_network")["name"] == "vnet-nwt-test-weu"
    subnets = children(out, "azurerm_subnet", "network")
    assert {key: body["address_prefixes"] for key, body in subnets.items()} == {
        "subnet_nodes": ["10.10.0.0/17"],
        "subnet_postgres": ["10.10.128.0/19"],
        "subnet_endpoints": ["10.10.160.0/19"],
    }
    assert {body["name"] for body in subnets.values()} == {
        "snet-nwt-test-weu-nodes",
        "snet-nwt-test-weu-postgres",
        "snet-nwt-test-weu-endpoints",
    }
    assert all(body["default_outbound_access_enabled"] is False for body in subnets.values())


def test_postgres_subnet_is_delegated_and_node_subnet_has_the_key_vault_service_endpoint():
    subnets = children(synth(network), "azurerm_subnet", "network")
    assert subnets["subnet_postgres"]["delegation"] == [
        {
            "name": "postgresql-flexible-server",
            "service_delegation": {
                "name": "Microsoft.DBforPostgreSQL/flexibleServers",
                "actions": ["Microsoft.Network/virtualNetworks/subnets/join/action"],
            },
        }
    ]
    assert "service_endpoints" not in subnets["subnet_nodes"]  # private endpoints, no service endpoints
    assert subnets["subnet_endpoints"]["private_endpoint_network_policies"] == "Enabled"


def test_every_subnet_has_its_own_nsg_that_denies_the_rest_of_the_vnet():
    out = synth(network)
    groups = children(out, "azurerm_network_security_group", "network")
    assert set(groups) == {"nsg_nodes", "nsg_postgres", "nsg_endpoints"}
    for group in groups.values():
        deny = rules_by_name(group)["deny-vnet-inbound"]
        assert (
            deny["access"],
            deny["direction"],
            deny["priority"],
            deny["source_address_prefix"],
            deny["protocol"],
        ) == ("Deny", "Inbound", 4000, "VirtualNetwork", "*")
    assert len(resources(out, "azurerm_subnet_network_security_group_association")) == 3


def _probes_pass(group: dict) -> bool:
    """Whether Azure load balancer health probes (source tag AzureLoadBalancer, 168.63.129.16) reach the subnet:
    the first inbound rule, by priority, that matches that source must allow it. A rule sourced from the
    VirtualNetwork tag matches it too: that tag includes "the virtual IP address of the host" (Azure docs,
    virtual-network/service-tags-overview), the address the probes come from."""
    matching = ("AzureLoadBalancer", "VirtualNetwork", "*")
    for rule in sorted(group["security_rule"], key=lambda r: r["priority"]):
        sources = rule.get("source_address_prefixes") or [rule.get("source_address_prefix")]
        if rule["direction"] == "Inbound" and any(s in matching for s in sources):
            return rule["access"] == "Allow"
    return True  # Azure's default AllowAzureLoadBalancerInBound (65001) applies


def test_every_nsg_lets_the_load_balancer_health_probes_in_ahead_of_its_vnet_deny():
    """issue #12 defect 2: the deny at 4000 (source VirtualNetwork) came before Azure's default
    AllowAzureLoadBalancerInBound (65001), so probes to the ingress controller's health check node port were
    dropped. Every NSG now allows the AzureLoadBalancer tag just ahead of its deny."""
    groups = children(synth(network), "azurerm_network_security_group", "network")
    for key, group in groups.items():
        assert _probes_pass(group), key
        allow = rules_by_name(group)["allow-azure-load-balancer-inbound"]
        assert (allow["access"], allow["source_address_prefix"], allow["priority"]) == (
            "Allow",
            "AzureLoadBalancer",
            3900,
        )


def test_no_nsg_in_any_stack_shadows_the_load_balancer_probes(synthesized):
    groups = synthesized.all_resources("azurerm_network_security_group")
    assert groups  # the cluster environments have NSGs
    assert [(stack, name) for stack, name, group in groups if not _probes_pass(group)] == []


def test_postgres_accepts_5432_from_the_nodes_only_and_endpoints_443_from_the_nodes_only():
    groups = children(synth(network), "azurerm_network_security_group", "network")
    postgres = rules_by_name(groups["nsg_postgres"])
    assert {name: r["access"] for name, r in postgres.items()} == {
        "allow-postgres-from-nodes": "Allow",
        "allow-postgres-subnet": "Allow",
        "allow-azure-load-balancer-inbound": "Allow",
        "deny-vnet-inbound": "Deny",
    }
    rule = postgres["allow-postgres-from-nodes"]
    assert (rule["source_address_prefix"], rule["destination_port_ranges"], rule["protocol"]) == (
        "10.10.0.0/17",
        ["5432"],
        "Tcp",
    )
    endpoints = rules_by_name(groups["nsg_endpoints"])["allow-https-from-nodes"]
    assert (endpoints["source_address_prefix"], endpoints["destination_port_ranges"]) == (
        "10.10.0.0/17",
        ["443"],
    )


def test_node_nsg_opens_only_the_ingress_ports_to_the_internet_by_default():
    nodes = rules_by_name(children(synth(network), "azurerm_network_security_group", "network")["nsg_nodes"])
    internet = [r for r in nodes.values() if r.get("source_address_prefix") == "Internet"]
    assert len(internet) == 1
    assert (internet[0]["destination_port_ranges"], internet[0]["protocol"]) == (["80", "443"], "Tcp")
    assert nodes["allow-cluster-inbound"]["source_address_prefixes"] == ["10.10.0.0/17"]


def test_pod_cidr_is_allowed_between_nodes_and_pods_for_the_overlay():
    nodes = children(
        synth(lambda s: network(s, pod_cidr="192.168.0.0/16")), "azurerm_network_security_group", "network"
    )["nsg_nodes"]
    rule = rules_by_name(nodes)["allow-cluster-inbound"]
    assert rule["source_address_prefixes"] == ["10.10.0.0/17", "192.168.0.0/16"]
    assert rule["destination_address_prefixes"] == ["10.10.0.0/17", "192.168.0.0/16"]


def test_no_ingress_ports_means_no_internet_rule():
    nodes = children(
        synth(lambda s: network(s, ingress_ports=())), "azurerm_network_security_group", "network"
    )
    assert all(r.get("source_address_prefix") != "Internet" for r in nodes["nsg_nodes"]["security_rule"])


@pytest.mark.parametrize("space", ["10.10.0.0/16", "10.20.0.0/20", "10.30.4.0/22"])
def test_layout_subnets_lie_inside_the_space_and_do_not_overlap(space):
    layout = {k: ipaddress.IPv4Network(v) for k, v in subnet_layout(space).items()}
    parent = ipaddress.IPv4Network(space)
    assert all(net.subnet_of(parent) for net in layout.values())
    nets = list(layout.values())
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])
    assert layout["nodes"].prefixlen == parent.prefixlen + 1


# --- one test per error -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"address_space": "10.10.0.1/16"},
            r"address_space = '10.10.0.1/16'; allowed: an IPv4 CIDR with no host",
        ),
        ({"address_space": "10.0.0.0/8"}, r"address_space = '10.0.0.0/8'; allowed: a prefix from /16 to /22"),
        ({"ingress_ports": (80, 70000)}, r"ingress_ports = \[80, 70000\]; allowed: distinct TCP ports"),
        ({"ingress_ports": (443, 443)}, r"ingress_ports = \[443, 443\]; allowed: distinct TCP ports"),
        ({"pod_cidr": "192.168.0.0/33"}, r"pod_cidr = '192.168.0.0/33'; allowed: an IPv4 CIDR"),
        ({"pod_cidr": "10.10.0.0/20"}, r"pod_cidr = '10.10.0.0/20' overlaps address_space '10.10.0.0/16'"),
    ],
)
def test_bad_props_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        synth(lambda s: network(s, **overrides))


# --- across environments ------------------------------------------------------------------------------------


def _write_environments(folder, spaces: dict[str, str]) -> None:
    (folder / "bootstrap.py").write_text(
        "from infra.settings import BootstrapSettings\nENVIRONMENT = BootstrapSettings()\n"
    )
    for name, space in spaces.items():
        (folder / f"{name}.py").write_text(
            textwrap.dedent(f"""\
            from infra.settings import EnvironmentSettings
            ENVIRONMENT = EnvironmentSettings(name={name!r}, kind="dev", address_space={space!r})
        """)
        )


def test_overlapping_address_spaces_fail_with_both_environments_named(tmp_path):
    _write_environments(tmp_path, {"alpha": "10.50.0.0/16", "beta": "10.50.128.0/20"})
    with pytest.raises(ConfigError) as raised:
        load_registry(directory=tmp_path)
    message = str(raised.value)
    assert "'alpha'" in message and "'beta'" in message
    assert "address_space" in message and "overlaps" in message


def test_disjoint_address_spaces_load(tmp_path):
    _write_environments(tmp_path, {"alpha": "10.50.0.0/16", "beta": "10.51.0.0/16"})
    assert [e.name for e in load_registry(directory=tmp_path).environments] == ["alpha", "beta"]


def test_the_real_environments_have_disjoint_vnets(registry):
    spaces = [ipaddress.IPv4Network(e.address_space) for e in registry.environments if e.address_space]
    assert len(spaces) >= 5
    assert not any(a.overlaps(b) for i, a in enumerate(spaces) for b in spaces[i + 1 :])


# --- settings of the network (infra/settings.py) ------------------------------------------------------------


def _settings(**overrides):
    from infra.settings import EnvironmentSettings

    return EnvironmentSettings(
        **{"name": "alpha", "kind": "dev", "address_space": "10.50.0.0/16", **overrides}
    )


def test_settings_default_overlay_and_service_ranges_are_outside_the_vnet():
    settings = _settings()
    assert (settings.pod_cidr, settings.service_cidr) == ("192.168.0.0/16", "172.16.0.0/16")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"pod_cidr": "192.168.0.1/16"},
            r"field 'pod_cidr' = '192.168.0.1/16'; allowed: a private IPv4 CIDR",
        ),
        (
            {"service_cidr": "8.8.0.0/16"},
            r"field 'service_cidr' = '8.8.0.0/16'; allowed: a private IPv4 range of /24",
        ),
        (
            {"service_cidr": "192.168.4.0/24"},
            r"field 'service_cidr' = '192.168.4.0/24'; allowed: a range that does not "
            r"overlap pod_cidr",
        ),
        (
            {"pod_cidr": "10.50.0.0/20"},
            r"field 'pod_cidr' = '10.50.0.0/20'; allowed: a range that does not overlap "
            r"address_space '10.50.0.0/16'",
        ),
    ],
)
def test_settings_refuse_cluster_ranges_that_collide(overrides, message):
    with pytest.raises(ConfigError, match=message):
        _settings(**overrides)
