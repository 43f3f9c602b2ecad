"""NetworkPolicies: default-deny ingress, same-namespace and ingress-controller allows, optional egress
default-deny with DNS, each error; and the policies as composed into every environment."""

from __future__ import annotations

import pytest

from building_blocks.kubernetes.namespace import Namespace
from building_blocks.kubernetes.network_policy import NetworkPolicies
from tests.blocks.kubernetes_helpers import new_stack, resources, synth
from tests.conftest import stack_names

MANAGED = {"app.kubernetes.io/managed-by": "terraform"}
ENVIRONMENTS = [name for name in stack_names() if name != "bootstrap"]


def _policies(**overrides):
    """GIVEN a fresh stack with a ``product`` namespace, WHEN NetworkPolicies goes into it: the parsed policies
    by Kubernetes name, the block and the namespace's address."""
    stack = new_stack()
    namespace = Namespace(stack, "namespace", name="product")
    block = NetworkPolicies(stack, "network_policies", **{"namespace": namespace, **overrides})
    doc = synth(stack)
    (ns_id,) = resources(doc, "kubernetes_namespace_v1")
    found = resources(doc, "kubernetes_network_policy_v1")
    by_name = {body["metadata"]["name"]: body for body in found.values()}
    assert len(by_name) == len(found), "policy names must be unique"
    return by_name, block, f"kubernetes_namespace_v1.{ns_id}"


def _assert_in_namespace(policy, ns_address):
    assert policy["metadata"]["namespace"] == f"${{{ns_address}.metadata[0].name}}"
    assert policy["metadata"]["labels"] == MANAGED
    assert policy["depends_on"] == [ns_address]
    assert policy["spec"]["pod_selector"] == {}  # every pod of the namespace


def test_only_required_inputs_deny_ingress_allow_same_namespace_and_ingress_controller():
    policies, block, ns_address = _policies()
    assert set(policies) == {"default-deny", "allow-same-namespace", "allow-from-ingress-controller"}
    for policy in policies.values():
        _assert_in_namespace(policy, ns_address)
    assert policies["default-deny"]["spec"] == {"pod_selector": {}, "policy_types": ["Ingress"]}
    assert policies["allow-same-namespace"]["spec"] == {
        "pod_selector": {},
        "policy_types": ["Ingress"],
        "ingress": [{"from": [{"pod_selector": {}}]}],
    }
    assert policies["allow-from-ingress-controller"]["spec"] == {
        "pod_selector": {},
        "policy_types": ["Ingress"],
        "ingress": [
            {"from": [{"namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]}
        ],
    }
    # Egress stays open: no policy selects Egress.
    assert not any("Egress" in p["spec"]["policy_types"] or "egress" in p["spec"] for p in policies.values())
    assert block.allow_dns is None and len(block.policies) == 3


def test_default_deny_is_the_resource_child():
    _, block, _ = _policies()
    assert block.default_deny.node.id == "Resource"


def test_ingress_namespace_is_the_one_allowed():
    policies, _, _ = _policies(ingress_namespace="traefik")
    (rule,) = policies["allow-from-ingress-controller"]["spec"]["ingress"]
    assert rule == {"from": [{"namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": "traefik"}}}]}


def test_deny_egress_denies_all_egress_but_dns_and_the_namespace():
    policies, block, ns_address = _policies(deny_egress=True)
    assert set(policies) == {
        "default-deny",
        "allow-same-namespace",
        "allow-from-ingress-controller",
        "allow-dns-egress",
    }
    for policy in policies.values():
        _assert_in_namespace(policy, ns_address)
    assert policies["default-deny"]["spec"] == {"pod_selector": {}, "policy_types": ["Ingress", "Egress"]}
    assert policies["allow-same-namespace"]["spec"] == {
        "pod_selector": {},
        "policy_types": ["Ingress", "Egress"],
        "ingress": [{"from": [{"pod_selector": {}}]}],
        "egress": [{"to": [{"pod_selector": {}}]}],
    }
    assert policies["allow-dns-egress"]["spec"] == {
        "pod_selector": {},
        "policy_types": ["Egress"],
        "egress": [
            {
                "to": [{"namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": "kube-system"}}}],
                "ports": [{"port": "53", "protocol": "UDP"}, {"port": "53", "protocol": "TCP"}],
            }
        ],
    }
    # The ingress-controller allow is unchanged by deny_egress.
    assert policies["allow-from-ingress-controller"]["spec"]["policy_types"] == ["Ingress"]
    assert block.allow_dns is not None and len(block.policies) == 4


def test_refuses_a_namespace_that_is_not_a_namespace_construct():
    stack = new_stack()
    with pytest.raises(ValueError, match="NetworkPolicies namespace = 'default'; allowed: a Namespace construct"):
        NetworkPolicies(stack, "network_policies", namespace="default")


def test_refuses_a_kube_namespace():
    stack = new_stack()
    namespace = Namespace(stack, "namespace", name="kube-extra")  # Namespace allows it; the policies do not
    with pytest.raises(ValueError, match=r"NetworkPolicies namespace = 'kube-extra'; allowed: .*'kube-\*'"):
        NetworkPolicies(stack, "network_policies", namespace=namespace)


@pytest.mark.parametrize("bad", ["", "Ingress-Nginx", "ingress_nginx", "-ingress", "a" * 64, None])
def test_refuses_an_ingress_namespace_that_is_not_a_dns_label(bad):
    stack = new_stack()
    namespace = Namespace(stack, "namespace", name="product")
    with pytest.raises(ValueError, match=r"NetworkPolicies ingress_namespace = .*; allowed: a DNS-1123 label"):
        NetworkPolicies(stack, "network_policies", namespace=namespace, ingress_namespace=bad)


def test_refuses_a_deny_egress_that_is_not_a_bool():
    stack = new_stack()
    namespace = Namespace(stack, "namespace", name="product")
    with pytest.raises(ValueError, match="NetworkPolicies deny_egress = 'yes'; allowed: True or False"):
        NetworkPolicies(stack, "network_policies", namespace=namespace, deny_egress="yes")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_application_namespace_denies_ingress_by_default(synthesized, environment):
    namespaces = {
        body["metadata"]["name"]: key
        for key, body in synthesized.resources(environment, "kubernetes_namespace_v1").items()
    }
    ingress_ns = next(
        body["namespace"]
        for body in synthesized.resources(environment, "helm_release").values()
        if body["name"] == "ingress-nginx"
    )
    ingress_ns_name = next(
        name for name, key in namespaces.items() if ingress_ns.startswith(f"${{kubernetes_namespace_v1.{key}.")
    )
    application = ["product"] + (["integrations"] if "integrations" in namespaces else [])
    assert "product" in namespaces, f"{environment} has no product namespace"
    policies = synthesized.resources(environment, "kubernetes_network_policy_v1").values()
    for ns_name in application:
        ref = f"${{kubernetes_namespace_v1.{namespaces[ns_name]}.metadata[0].name}}"
        mine = {p["metadata"]["name"]: p["spec"] for p in policies if p["metadata"]["namespace"] == ref}
        assert mine["default-deny"] == {"pod_selector": {}, "policy_types": ["Ingress"]}, (environment, ns_name)
        assert mine["allow-same-namespace"]["ingress"] == [{"from": [{"pod_selector": {}}]}]
        assert mine["allow-from-ingress-controller"]["ingress"] == [
            {"from": [{"namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": ingress_ns_name}}}]}
        ]
    # Platform namespaces (the charts' own) get no policies from this layer.
    covered = {p["metadata"]["namespace"] for p in policies}
    assert covered == {f"${{kubernetes_namespace_v1.{namespaces[n]}.metadata[0].name}}" for n in application}


def test_the_enterprise_integrations_namespace_is_covered(synthesized):
    """At least one environment has integrations, so the integrations branch of the layer is exercised."""
    with_integrations = [
        env
        for env in ENVIRONMENTS
        if any(
            body["metadata"]["name"] == "integrations"
            for body in synthesized.resources(env, "kubernetes_namespace_v1").values()
        )
    ]
    assert with_integrations, "no environment has an integrations namespace"
    for env in with_integrations:
        policies = synthesized.resources(env, "kubernetes_network_policy_v1")
        assert len(policies) == 6, (env, sorted(policies))  # three each in product and integrations


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_application_releases_wait_for_their_namespace_policies(synthesized, environment):
    """No pod of the company's starts before its namespace is locked down: every release in an application
    namespace depends on all of that namespace's policies."""
    namespaces = {
        f"${{kubernetes_namespace_v1.{key}.metadata[0].name}}": body["metadata"]["name"]
        for key, body in synthesized.resources(environment, "kubernetes_namespace_v1").items()
    }
    policies_by_namespace: dict[str, set[str]] = {}
    for key, body in synthesized.resources(environment, "kubernetes_network_policy_v1").items():
        address = f"kubernetes_network_policy_v1.{key}"
        policies_by_namespace.setdefault(body["metadata"]["namespace"], set()).add(address)
    checked = 0
    for body in synthesized.resources(environment, "helm_release").values():
        if namespaces.get(body["namespace"]) not in ("product", "integrations"):
            continue
        assert policies_by_namespace[body["namespace"]] <= set(body["depends_on"]), body["name"]
        checked += 1
    assert checked >= 3, environment  # api, web, worker at least
