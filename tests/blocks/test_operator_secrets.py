"""OperatorSecrets: values from outside read from the environment's Key Vault, with a missing one failing the
plan with the command that fixes it (not the provider's bare "does not exist")."""

from __future__ import annotations

import pytest

from building_blocks.operator_secrets import OperatorSecret, OperatorSecrets, set_command
from tests.blocks.azure_helpers import synth

VAULT_ID = "/subscriptions/1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-nwt-test-1234"
CLIENT_SECRET = OperatorSecret(name="sso-bridge-oidc-client-secret", description="the IdP's client secret")


def _secrets(stack, **overrides):
    props = {"key_vault_id": VAULT_ID, "key_vault_name": "kv-nwt-test-1234", "secrets": [CLIENT_SECRET],
             **overrides}
    return OperatorSecrets(stack, "operator_secrets", **props)


def test_one_secret_is_read_only_after_checking_it_exists():
    out = synth(_secrets)
    ((names_id, names),) = out["data"]["azurerm_key_vault_secrets"].items()
    assert names["key_vault_id"] == VAULT_ID
    ((_, secret),) = out["data"]["azurerm_key_vault_secret"].items()
    assert secret["name"] == "sso-bridge-oidc-client-secret" and secret["key_vault_id"] == VAULT_ID
    (precondition,) = secret["lifecycle"]["precondition"]
    assert precondition["condition"] == (
        f'${{contains(data.azurerm_key_vault_secrets.{names_id}.names, "sso-bridge-oidc-client-secret")}}'
    )
    assert precondition["error_message"] == (
        "Key Vault secret 'sso-bridge-oidc-client-secret' is missing from vault kv-nwt-test-1234: the IdP's "
        "client secret. An operator stores it once: az keyvault secret set --vault-name kv-nwt-test-1234 "
        "--name sso-bridge-oidc-client-secret --file <file with the value> (docs/secrets.md, \"Values from "
        "outside\")."
    )
    (postcondition,) = secret["lifecycle"]["postcondition"]
    assert postcondition["condition"] == "${length(self.value) > 0}"
    assert "is empty" in postcondition["error_message"]


def test_references_are_the_values_and_reads_wait_for_the_dependencies():
    holder = {}

    def build(stack):
        from cdktf import TerraformLocal

        role = TerraformLocal(stack, "role", "officer")
        holder["block"] = _secrets(stack, depends_on=[role])

    out = synth(build)
    block = holder["block"]
    assert list(block.references) == ["sso-bridge-oidc-client-secret"]
    assert block.references["sso-bridge-oidc-client-secret"].startswith("${TfToken[")
    for kind in ("azurerm_key_vault_secrets", "azurerm_key_vault_secret"):
        (body,) = out["data"][kind].values()
        assert body["depends_on"] == ["local.role"]


def test_the_command_reads_the_value_from_a_file():
    assert set_command("kv-a", "b") == "az keyvault secret set --vault-name kv-a --name b --file <file with the value>"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"secrets": []}, r"secrets = \[\]; allowed: at least one OperatorSecret"),
        ({"secrets": [CLIENT_SECRET, CLIENT_SECRET]}, r"more than once"),
        ({"secrets": ["x"]}, r"secret 'x'; allowed: an OperatorSecret"),
        ({"secrets": [OperatorSecret(name="Bad_Name", description="x")]}, r"secret name = 'Bad_Name'"),
        ({"key_vault_name": "${TfToken[TOKEN.1]}"}, r"key_vault_name = .*; allowed: the vault's literal name"),
    ],
)
def test_bad_input(overrides, message):
    with pytest.raises(ValueError, match=message):
        synth(lambda stack: _secrets(stack, **overrides))
