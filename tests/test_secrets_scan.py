"""No secret material in any synthesized stack: every place a secret can go must hold a Terraform reference.

Scanned in every stack of the app: Key Vault secrets (``value``, ``value_wo``), Kubernetes secrets (``data``,
``data_wo``, ``binary_data``, ``binary_data_wo``), PostgreSQL passwords, helm ``set_sensitive`` values, every
provider block (``client_secret``, ``password``, ``token``, ``client_key`` ... at any depth) and, anywhere in
a resource, data source or provider, any string attribute whose name says it is a password, secret, token or
key.
A reference is a whole-string ``${...}`` expression that names a resource, data source, variable or local.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import stack_names

# Attributes that hold a secret wherever they appear (resources, data sources, providers, nested blocks).
SECRET_ATTRIBUTE = re.compile(
    r"^(.*_)?(password|secret|token|client_key|private_key|access_key|sas_token|client_certificate|api_key)"
    r"(_wo)?$")
# Maps whose every value is secret material.
SECRET_MAPS = {
    "kubernetes_secret_v1": ("data", "data_wo", "binary_data", "binary_data_wo"),
    "kubernetes_secret": ("data", "data_wo", "binary_data", "binary_data_wo"),
}
# Attributes that are secret although their name does not say so.
SECRET_VALUES = {
    "azurerm_key_vault_secret": ("value", "value_wo"),
}
_REFERENCE = re.compile(r"^\$\{(?!\s*\")(.*)\}$", re.DOTALL)
_ADDRESSABLE = re.compile(r"\b([a-z][a-z0-9_]*\.[A-Za-z0-9_-]+\.|var\.|local\.|data\.|ephemeral\.|module\.)")


def is_reference(value: Any) -> bool:
    """True for a whole-string Terraform expression that reads from something addressable."""
    if not isinstance(value, str):
        return False
    match = _REFERENCE.match(value.strip())
    return bool(match and _ADDRESSABLE.search(match.group(1)))


def _walk(node: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """(path, attribute name, value) of every attribute below ``node``, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "//":
                continue
            yield f"{path}.{key}", key, value
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{path}[{index}]")


def literal_secrets(stack: dict[str, Any]) -> list[str]:
    """Where ``stack`` (a parsed cdk.tf.json) holds secret material that is not a reference."""
    findings: list[str] = []

    def check(where: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, list):  # providers and blocks are lists of objects in Terraform JSON
            for index, item in enumerate(value):
                check(f"{where}[{index}]", item)
        elif not is_reference(value):
            findings.append(f"{where} is a literal")

    sections = [("resource", stack.get("resource", {})), ("data", stack.get("data", {}))]
    for section, by_type in sections:
        for resource_type, instances in by_type.items():
            for logical_id, body in instances.items():
                base = f"{section}.{resource_type}.{logical_id}"
                for attribute in SECRET_VALUES.get(resource_type, ()):
                    if attribute in body:
                        check(f"{base}.{attribute}", body[attribute])
                for attribute in SECRET_MAPS.get(resource_type, ()):
                    mapping = body.get(attribute)
                    if isinstance(mapping, dict):
                        for key, value in mapping.items():
                            check(f"{base}.{attribute}[{key!r}]", value)
                    elif mapping is not None:
                        check(f"{base}.{attribute}", mapping)
                if resource_type == "helm_release":
                    for index, entry in enumerate(body.get("set_sensitive") or []):
                        check(f"{base}.set_sensitive[{index}].value", entry.get("value"))
                for where, name, value in _walk(body, base):
                    if isinstance(value, str) and SECRET_ATTRIBUTE.match(name):
                        check(where, value)
    for provider_type, configurations in stack.get("provider", {}).items():
        for index, configuration in enumerate(configurations):
            for where, name, value in _walk(configuration, f"provider.{provider_type}[{index}]"):
                if isinstance(value, str) and SECRET_ATTRIBUTE.match(name):
                    check(where, value)
    backend = stack.get("terraform", {}).get("backend", {})
    for where, name, value in _walk(backend, "terraform.backend"):
        if isinstance(value, str) and SECRET_ATTRIBUTE.match(name):
            check(where, value)
    return findings


@pytest.mark.parametrize("stack", stack_names())
def test_no_literal_secret_material_in_any_stack(synthesized, stack):
    assert literal_secrets(synthesized.stacks[stack]) == []


def test_every_environment_delivers_its_generated_secrets_by_reference(synthesized, registry):
    for env in registry.environments:
        secrets = synthesized.resources(env.name, "azurerm_key_vault_secret")
        generated = {body["name"]: body for body in secrets.values()
                     if "generated-by" in body.get("tags", {})}
        assert set(generated) == {"postgres-admin-password", "app-signing-key", "service-api-key"}, env.name
        for body in generated.values():
            assert re.fullmatch(r"\$\{random_(password|bytes)\.[A-Za-z0-9_-]+\.(result|base64)\}",
                                body["value"])


# --- the scanner itself must catch what it exists to catch ------------------------------------------------

REF = "${random_password.generated_secrets_x_1234.result}"
CLEAN = {
    "provider": {
        "azurerm": [{"subscription_id": "1111", "features": [{}]}],
        "kubernetes": [{"host": "${azurerm_kubernetes_cluster.aks.kube_config[0].host}",
                        "exec": [{"api_version": "client.authentication.k8s.io/v1beta1",
                                  "command": "kubelogin"}]}],
        "helm": [{"kubernetes": [{"host": "https://x",
                                  "token": "${data.azurerm_client_config.c.object_id}"}]}],
    },
    "resource": {
        "azurerm_key_vault_secret": {"s": {"name": "n", "value": REF, "content_type": "text/plain"}},
        "kubernetes_secret_v1": {"k": {"metadata": [{"name": "global"}], "data": {"api-key": REF}}},
        "azurerm_postgresql_flexible_server": {"p": {"administrator_login": "psqladmin",
                                                     "administrator_password": REF}},
        "helm_release": {"h": {"set_sensitive": [{"name": "auth.password", "value": REF}]}},
        "azurerm_kubernetes_cluster": {"a": {"key_vault_secrets_provider": [
            {"secret_rotation_enabled": True}]}},
    },
    "terraform": {"backend": {"azurerm": {"use_azuread_auth": True}}},
}


def planted(path: list[Any], value: Any) -> dict[str, Any]:
    stack = copy.deepcopy(CLEAN)
    node = stack
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return stack


def test_scanner_accepts_a_clean_stack():
    assert literal_secrets(CLEAN) == []


@pytest.mark.parametrize(("path", "where"), [
    (["resource", "azurerm_key_vault_secret", "s", "value"], "resource.azurerm_key_vault_secret.s.value"),
    (["resource", "azurerm_key_vault_secret", "s", "value_wo"],
     "resource.azurerm_key_vault_secret.s.value_wo"),
    (["resource", "kubernetes_secret_v1", "k", "data"], "resource.kubernetes_secret_v1.k.data"),
    (["resource", "kubernetes_secret_v1", "k", "data_wo"], "resource.kubernetes_secret_v1.k.data_wo"),
    (["resource", "azurerm_postgresql_flexible_server", "p", "administrator_password"],
     "resource.azurerm_postgresql_flexible_server.p.administrator_password"),
    (["resource", "azurerm_postgresql_flexible_server", "p", "administrator_password_wo"],
     "resource.azurerm_postgresql_flexible_server.p.administrator_password_wo"),
    (["provider", "azurerm", 0, "client_secret"], "provider.azurerm[0].client_secret"),
    (["provider", "kubernetes", 0, "client_key"], "provider.kubernetes[0].client_key"),
    (["provider", "kubernetes", 0, "password"], "provider.kubernetes[0].password"),
    (["provider", "helm", 0, "kubernetes", 0, "token"], "provider.helm[0].kubernetes[0].token"),
    (["terraform", "backend", "azurerm", "access_key"], "terraform.backend.azurerm.access_key"),
])
def test_scanner_catches_a_planted_literal(path, where):
    value = {"api-key": "hunter2-hunter2"} if path[-1].startswith("data") else "hunter2-hunter2"
    findings = literal_secrets(planted(path, value))
    assert findings and all(f.startswith(where) for f in findings), findings


def test_scanner_catches_a_literal_in_a_helm_set_sensitive_value():
    stack = planted(["resource", "helm_release", "h", "set_sensitive"],
                    [{"name": "auth.password", "value": "pw"}])
    assert literal_secrets(stack) == ["resource.helm_release.h.set_sensitive[0].value is a literal"]


@pytest.mark.parametrize("value", ['${"hunter2"}', "prefix-${random_password.x.result}", "${upper(\"a\")}",
                                   "", "${}"])
def test_scanner_does_not_take_a_disguised_literal_for_a_reference(value):
    stack = planted(["resource", "azurerm_key_vault_secret", "s", "value"], value)
    assert literal_secrets(stack) == ["resource.azurerm_key_vault_secret.s.value is a literal"]


@pytest.mark.parametrize("value", [REF, "${data.azurerm_key_vault_secret.x.value}", "${var.password}",
                                   "${base64encode(random_bytes.k_1.base64)}",
                                   "${azurerm_kubernetes_cluster.aks.kube_config[0].client_key}"])
def test_scanner_accepts_references(value):
    assert is_reference(value)
