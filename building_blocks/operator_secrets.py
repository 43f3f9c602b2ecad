"""Values from outside, read from the environment's Key Vault: secrets an operator put there once.

Some values no Terraform run can make — a customer's identity provider issues the client secret of our
application there. They have one home: the environment's Key Vault, where an operator stores each one once,
under a fixed name, with ``az keyvault secret set``. The stack reads them with this block and hands the
references on (to the Kubernetes layer, which writes them into Kubernetes Secrets). See docs/secrets.md,
"Values from outside".

A missing secret must stop the plan with a message that says what to do, not hang an install. The provider's
own ``azurerm_key_vault_secret`` data source fails a read of a missing secret with ``KeyVault Secret "<name>"
(KeyVault URI "<uri>") does not exist`` (terraform-provider-azurerm v4.55.0,
``internal/services/keyvault/key_vault_secret_data_source.go``, ``dataSourceKeyVaultSecretRead``) — true but
without the remedy. So every secret's data source has a ``precondition`` on the vault's list of secret names
(``azurerm_key_vault_secrets``, ``names``): Terraform checks a precondition before it reads the data source
(https://developer.hashicorp.com/terraform/language/expressions/custom-conditions, "Resources and Data
Sources"), so a missing secret fails with our message, naming the vault, the secret and the command. A
``postcondition`` refuses an empty value.

When the vault is known at plan time (every plan after the first apply) the check fails the plan. On the first
apply of a new environment the vault does not exist yet, so Terraform reads both data sources during apply,
right after creating the vault and the deployer's role on it: the apply stops there with the same message,
before anything that uses the value (the Kubernetes Secret, the release) is created.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import cdktf
from cdktf_cdktf_provider_azurerm.data_azurerm_key_vault_secret import DataAzurermKeyVaultSecret
from cdktf_cdktf_provider_azurerm.data_azurerm_key_vault_secrets import DataAzurermKeyVaultSecrets
from constructs import Construct

# Key Vault secret names: 1-127 letters, digits and '-' (lowercase here, like every name in this repository).
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,125}[a-z0-9])?$")
_VAULT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")


@dataclass(frozen=True, kw_only=True)
class OperatorSecret:
    """One value an operator puts into the vault."""

    name: str
    """The Key Vault secret name (lowercase letters, digits, '-')."""
    description: str
    """What it is and who provides it (part of the message when it is missing)."""


def set_command(vault_name: str, secret_name: str) -> str:
    """The one command that stores the value (from a file, so it never lands in the shell history)."""
    return f"az keyvault secret set --vault-name {vault_name} --name {secret_name} --file <file with the value>"


class OperatorSecrets(Construct):
    """``azurerm_key_vault_secrets`` (child ``names``) and one ``azurerm_key_vault_secret`` per
    :class:`OperatorSecret` (child = its name), each with a precondition (the secret exists: else a message
    with the ``az keyvault secret set`` command) and a postcondition (its value is not empty).

    Exposes ``references`` (secret name → the value, a sensitive Terraform reference) and ``data_sources``
    (secret name → the data source).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        key_vault_id: str,
        key_vault_name: str,
        secrets: Sequence[OperatorSecret],
        depends_on: Sequence[cdktf.ITerraformDependable] = (),
    ) -> None:
        """Required: ``key_vault_id`` (the vault, usually a reference), ``key_vault_name`` (its literal name,
        for the operator's command), ``secrets`` (at least one, unique names). ``depends_on`` (default none):
        what must exist before the vault can be read — the deploying identity's data-plane role on it."""
        super().__init__(scope, id_)
        owner = "OperatorSecrets"
        if not isinstance(key_vault_name, str) or not _VAULT_NAME.match(key_vault_name):
            raise ValueError(
                f"{owner} key_vault_name = {key_vault_name!r}; allowed: the vault's literal name (3-24 letters, "
                "digits and '-')"
            )
        if not secrets:
            raise ValueError(f"{owner} secrets = {secrets!r}; allowed: at least one OperatorSecret")
        names = [s.name if isinstance(s, OperatorSecret) else s for s in secrets]
        for secret in secrets:
            if not isinstance(secret, OperatorSecret):
                raise ValueError(f"{owner} secret {secret!r}; allowed: an OperatorSecret(name=..., description=...)")
            if not isinstance(secret.name, str) or not _SECRET_NAME.match(secret.name):
                raise ValueError(
                    f"{owner} secret name = {secret.name!r}; allowed: 1-127 lowercase letters, digits and '-'"
                )
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"{owner} secrets name {duplicates} more than once; allowed: unique names")
        self.names = DataAzurermKeyVaultSecrets(
            self, "names", key_vault_id=key_vault_id, depends_on=list(depends_on) or None
        )
        self.data_sources: dict[str, DataAzurermKeyVaultSecret] = {}
        self.references: dict[str, str] = {}
        for secret in secrets:
            command = set_command(key_vault_name, secret.name)
            data = DataAzurermKeyVaultSecret(
                self,
                secret.name,
                name=secret.name,
                key_vault_id=key_vault_id,
                depends_on=list(depends_on) or None,
                lifecycle=cdktf.TerraformResourceLifecycle(
                    precondition=[
                        cdktf.Precondition(
                            condition=cdktf.Fn.contains(self.names.names, secret.name),
                            error_message=(
                                f"Key Vault secret {secret.name!r} is missing from vault {key_vault_name}: "
                                f"{secret.description}. An operator stores it once: {command} "
                                "(docs/secrets.md, \"Values from outside\")."
                            ),
                        )
                    ],
                    postcondition=[
                        cdktf.Postcondition(
                            condition="${length(self.value) > 0}",
                            error_message=(
                                f"Key Vault secret {secret.name!r} in vault {key_vault_name} is empty; store "
                                f"the value: {command}."
                            ),
                        )
                    ],
                ),
            )
            self.data_sources[secret.name] = data
            self.references[secret.name] = data.value
