"""Security and reliability invariants over EVERY synthesized stack (issue 7, docs/security.md).

Written once over all stacks, never per release or per environment: a new environment, chart or Kubernetes
object is checked the moment it is synthesized. Each checker returns a list of problems (empty = fine), and
a doctored copy of a real stack proves that each rule can fail.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from infra import scan

# Exact semantic version, optionally with the "v" some charts use (cert-manager): no range, no "latest".
EXACT_VERSION = re.compile(r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
MAX_HISTORY = range(1, 21)
SKU_ANY = ("Free", "Standard", "Premium")
_NAMESPACE_REF = re.compile(r"^\$\{(kubernetes_namespace(?:_v1)?)\.([^.}]+)\.metadata\[0\]\.name\}$")
# kubernetes_* resource types whose objects are not namespaced (everything else must name a namespace).
CLUSTER_SCOPED = frozenset(
    {
        "kubernetes_namespace",
        "kubernetes_namespace_v1",
        "kubernetes_cluster_role",
        "kubernetes_cluster_role_v1",
        "kubernetes_cluster_role_binding",
        "kubernetes_cluster_role_binding_v1",
        "kubernetes_storage_class",
        "kubernetes_storage_class_v1",
        "kubernetes_persistent_volume",
        "kubernetes_persistent_volume_v1",
        "kubernetes_priority_class",
        "kubernetes_priority_class_v1",
        "kubernetes_mutating_webhook_configuration",
        "kubernetes_mutating_webhook_configuration_v1",
        "kubernetes_validating_webhook_configuration",
        "kubernetes_validating_webhook_configuration_v1",
        "kubernetes_csi_driver",
        "kubernetes_csi_driver_v1",
        "kubernetes_runtime_class_v1",
        "kubernetes_certificate_signing_request",
        "kubernetes_certificate_signing_request_v1",
        "kubernetes_api_service",
        "kubernetes_api_service_v1",
        "kubernetes_node_taint",
    }
)
CLUSTER_SCOPED_MANIFEST_KINDS = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "StorageClass",
        "PersistentVolume",
        "PriorityClass",
        "ClusterIssuer",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "IngressClass",
    }
)


def _resources(stack: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return stack.get("resource", {}).get(resource_type, {})


def _metadata(body: dict[str, Any]) -> dict[str, Any]:
    metadata = body.get("metadata", {})
    return metadata[0] if isinstance(metadata, list) and metadata else metadata if isinstance(metadata, dict) else {}


def resolve_namespace(stack: dict[str, Any], value: Any) -> str | None:
    """The namespace name ``value`` stands for: a literal, or a reference to a namespace resource of the same
    stack resolved to that resource's ``metadata.name``. None when it cannot be known at synthesis."""
    if not isinstance(value, str):
        return None
    match = _NAMESPACE_REF.match(value)
    if match is None:
        return None if "${" in value else value
    target = _resources(stack, match.group(1)).get(match.group(2))
    name = _metadata(target).get("name") if target else None
    return name if isinstance(name, str) and "${" not in name else None


def _namespace_problem(stack: dict[str, Any], value: Any) -> str | None:
    name = resolve_namespace(stack, value)
    if name is None:
        return f"namespace {value!r} is missing or cannot be resolved to a name"
    if name in ("", "default"):
        return f"namespace {value!r} is {name!r}"
    return None


def helm_release_problems(stack: dict[str, Any]) -> list[str]:
    """Every helm_release: an exact chart version, atomic, cleanup_on_fail, 1 ≤ max_history ≤ 20, a
    timeout, and a namespace that is neither empty nor ``default``."""
    problems = []
    for key, release in _resources(stack, "helm_release").items():
        version = release.get("version")
        if not isinstance(version, str) or not EXACT_VERSION.match(version):
            problems.append(f"{key}: version {version!r} is not an exact version")
        for flag in ("atomic", "cleanup_on_fail"):
            if release.get(flag) is not True:
                problems.append(f"{key}: {flag} = {release.get(flag)!r}, not true")
        history = release.get("max_history")
        if isinstance(history, bool) or not isinstance(history, int) or history not in MAX_HISTORY:
            problems.append(f"{key}: max_history = {history!r}, not 1 to 20")
        timeout = release.get("timeout")
        if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
            problems.append(f"{key}: timeout = {timeout!r}, not a positive number of seconds")
        problem = _namespace_problem(stack, release.get("namespace"))
        if problem:
            problems.append(f"{key}: {problem}")
    return problems


def default_namespace_problems(stack: dict[str, Any]) -> tuple[list[str], int]:
    """(problems, namespaced objects checked): no kubernetes_* object in the ``default`` namespace, none
    without a namespace where its kind is namespaced, no namespace resource called ``default``."""
    problems, checked = [], 0
    for resource_type, resources in stack.get("resource", {}).items():
        if not resource_type.startswith("kubernetes_"):
            continue
        for key, body in resources.items():
            where = f"{resource_type}.{key}"
            if resource_type in ("kubernetes_namespace", "kubernetes_namespace_v1"):
                if _metadata(body).get("name") == "default":
                    problems.append(f"{where}: manages the default namespace")
                continue
            if resource_type in CLUSTER_SCOPED:
                continue
            if resource_type == "kubernetes_manifest":
                manifest = body.get("manifest", {})
                if manifest.get("kind") in CLUSTER_SCOPED_MANIFEST_KINDS:
                    continue
                value = manifest.get("metadata", {}).get("namespace")
            else:
                value = _metadata(body).get("namespace")
            checked += 1
            problem = _namespace_problem(stack, value)
            if problem:
                problems.append(f"{where}: {problem}")
    return problems, checked


# --- over every synthesized stack -----------------------------------------------------------------------------


def test_every_helm_release_in_every_stack_is_pinned_atomic_and_bounded(synthesized):
    problems = {name: helm_release_problems(stack) for name, stack in synthesized.stacks.items()}
    assert {name: found for name, found in problems.items() if found} == {}
    releases = sum(len(_resources(stack, "helm_release")) for stack in synthesized.stacks.values())
    assert releases >= len(synthesized.stacks) - 1  # every environment deploys charts (bootstrap none)


def test_no_kubernetes_object_in_any_stack_lives_in_the_default_namespace(synthesized):
    checked = 0
    for name, stack in synthesized.stacks.items():
        problems, count = default_namespace_problems(stack)
        assert problems == [], name
        checked += count
    assert checked > 0  # the rule did look at namespaced objects


def test_every_aks_cluster_in_every_stack_keeps_its_hardening(synthesized, registry):
    clusters = 0
    for env in registry.environments:
        for key, aks in _resources(synthesized.stacks[env.name], "azurerm_kubernetes_cluster").items():
            clusters += 1
            where = f"{env.name} {key}"
            assert aks["role_based_access_control_enabled"] is True, where
            assert aks["azure_active_directory_role_based_access_control"]["azure_rbac_enabled"] is True, where
            assert aks["local_account_disabled"] is True, where
            assert aks["network_profile"]["network_policy"] in ("cilium", "calico", "azure"), where
            assert aks["oms_agent"]["msi_auth_for_monitoring_enabled"] is True, where
            assert aks["azure_policy_enabled"] is True, where
            assert aks["key_vault_secrets_provider"]["secret_rotation_enabled"] is True, where
            assert aks["automatic_upgrade_channel"] in ("patch", "stable", "rapid", "node-image"), where
            assert aks["node_os_upgrade_channel"] in ("SecurityPatch", "NodeImage"), where
            pools = [
                aks["default_node_pool"],
                *(p for p in _resources(synthesized.stacks[env.name], "azurerm_kubernetes_cluster_node_pool").values()),
            ]
            assert all(50 <= p["max_pods"] <= 250 for p in pools), where  # CKV_AZURE_168 wants at least 50
            assert aks["sku_tier"] in (("Standard", "Premium") if env.production_like else SKU_ANY), where
    assert clusters == sum(1 for e in registry.environments if e.has_azure_cluster)


def test_every_key_vault_secret_in_every_stack_has_a_content_type(synthesized):
    secrets = [(stack, key, body) for stack, key, body in synthesized.all_resources("azurerm_key_vault_secret")]
    assert secrets
    assert [f"{stack} {key}" for stack, key, body in secrets if not body.get("content_type")] == []


def test_the_state_account_logs_every_blob_read_write_and_delete(synthesized):
    stack = synthesized.stacks["bootstrap"]
    accounts = _resources(stack, "azurerm_storage_account")  # one per region (infra/state.py)
    workspaces = _resources(stack, "azurerm_log_analytics_workspace")
    settings = _resources(stack, "azurerm_monitor_diagnostic_setting")
    assert len(settings) == len(workspaces) == len(accounts) >= 1
    for account_id, account in accounts.items():
        blob_service = f"${{azurerm_storage_account.{account_id}.id}}/blobServices/default"
        (setting,) = [s for s in settings.values() if s["target_resource_id"] == blob_service]
        (workspace_id,) = [w for w, body in workspaces.items() if body["location"] == account["location"]]
        assert setting["log_analytics_workspace_id"] == f"${{azurerm_log_analytics_workspace.{workspace_id}.id}}"
        assert setting["enabled_log"] == [
            {"category": "StorageRead"},
            {"category": "StorageWrite"},
            {"category": "StorageDelete"},
        ]
        workspace = workspaces[workspace_id]
        assert workspace["local_authentication_enabled"] is False
        assert workspace["retention_in_days"] >= 90


def test_every_skip_is_explained_in_docs_security(registry):
    from infra.platform_config import REPO_ROOT

    text = (REPO_ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    skips = scan.load_skips(environments=registry.stack_names)
    assert [s.check for s in skips if f"`{s.check}`" not in text] == []


# --- each checker can fail ------------------------------------------------------------------------------------


def _doctored(synthesized, change) -> dict[str, Any]:
    """A deep copy of the dev stack with ``change(stack, release_key, first_config_map_key)`` applied, where
    ``release_key`` is the first release alone in its namespace (renaming that namespace doctors one release;
    cert-manager shares its namespace with the cluster-issuers release)."""
    stack = copy.deepcopy(synthesized.stacks["dev"])
    releases = _resources(stack, "helm_release")
    namespaces = [body.get("namespace") for body in releases.values()]
    release = next(key for key, body in releases.items() if namespaces.count(body.get("namespace")) == 1)
    config_map = next(iter(_resources(stack, "kubernetes_config_map_v1")))
    change(stack, release, config_map)
    return stack


def _set_release(field: str, value: Any):
    def change(stack, release, _):
        if value is _DELETE:
            del stack["resource"]["helm_release"][release][field]
        else:
            stack["resource"]["helm_release"][release][field] = value

    return change


_DELETE = object()


def _rename_release_namespace_to_default(stack, release, _):
    ref = stack["resource"]["helm_release"][release]["namespace"]
    namespace_type, namespace_key = _NAMESPACE_REF.match(ref).group(1, 2)
    stack["resource"][namespace_type][namespace_key]["metadata"]["name"] = "default"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set_release("version", ""), "version '' is not an exact version"),
        (_set_release("version", "latest"), "version 'latest' is not an exact version"),
        (_set_release("version", "^1.2.0"), "version '^1.2.0' is not an exact version"),
        (_set_release("version", "1.2"), "version '1.2' is not an exact version"),
        (_set_release("version", _DELETE), "version None is not an exact version"),
        (_set_release("atomic", False), "atomic = False, not true"),
        (_set_release("cleanup_on_fail", _DELETE), "cleanup_on_fail = None, not true"),
        (_set_release("max_history", 0), "max_history = 0, not 1 to 20"),
        (_set_release("max_history", 21), "max_history = 21, not 1 to 20"),
        (_set_release("max_history", _DELETE), "max_history = None, not 1 to 20"),
        (_set_release("timeout", _DELETE), "timeout = None, not a positive number of seconds"),
        (_set_release("namespace", "default"), "namespace 'default' is 'default'"),
        (_set_release("namespace", ""), "namespace '' is ''"),
        (_set_release("namespace", _DELETE), "namespace None is missing"),
        (_rename_release_namespace_to_default, "is 'default'"),
    ],
)
def test_the_helm_release_checker_catches_a_doctored_release(synthesized, change, message):
    assert helm_release_problems(synthesized.stacks["dev"]) == []
    problems = helm_release_problems(_doctored(synthesized, change))
    assert len(problems) == 1 and message in problems[0], problems


def _set_config_map_namespace(value: Any):
    def change(stack, _, config_map):
        metadata = stack["resource"]["kubernetes_config_map_v1"][config_map]["metadata"]
        if value is _DELETE:
            del metadata["namespace"]
        else:
            metadata["namespace"] = value

    return change


def _add(resource_type: str, body: dict[str, Any]):
    def change(stack, _, __):
        stack["resource"].setdefault(resource_type, {})["doctored"] = body

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set_config_map_namespace("default"), "kubernetes_config_map_v1."),
        (_set_config_map_namespace(_DELETE), "namespace None is missing"),
        (_set_config_map_namespace("${var.namespace}"), "cannot be resolved"),
        (_add("kubernetes_deployment_v1", {"metadata": {"name": "web"}}), "kubernetes_deployment_v1.doctored"),
        (
            _add("kubernetes_manifest", {"manifest": {"kind": "Certificate", "metadata": {"name": "c"}}}),
            "kubernetes_manifest.doctored",
        ),
        (_add("kubernetes_namespace_v1", {"metadata": {"name": "default"}}), "manages the default namespace"),
    ],
)
def test_the_namespace_checker_catches_a_doctored_object(synthesized, change, message):
    assert default_namespace_problems(synthesized.stacks["dev"])[0] == []
    problems, _ = default_namespace_problems(_doctored(synthesized, change))
    assert len(problems) == 1 and message in problems[0], problems


def test_the_namespace_checker_leaves_cluster_scoped_objects_alone(synthesized):
    stack = _doctored(synthesized, _add("kubernetes_cluster_role_v1", {"metadata": {"name": "reader"}}))
    assert default_namespace_problems(stack)[0] == []
    stack = _doctored(synthesized, _add("kubernetes_manifest", {"manifest": {"kind": "ClusterIssuer"}}))
    assert default_namespace_problems(stack)[0] == []
