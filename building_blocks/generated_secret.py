"""A secret made on the first deploy by the random provider, backed up to Key Vault, handed out as a
reference.

The value is created once by ``random_password`` or ``random_bytes``; their ``keepers`` hold only the secret's
rotation number, so a re-deploy never changes it and raising the number is the one way to rotate it. The value
is written to the environment's Key Vault (``azurerm_key_vault_secret``) so it survives the loss of the
cluster and, through ``infra secrets recover-state``, the loss of the Terraform state. Consumers get
:attr:`value`, a Terraform expression (``${random_password.<id>.result}``): no value ever appears in the
synthesized JSON.

Decisions (details and trade-offs in docs/secrets.md):

- The value lives in Terraform state (the random resource's ``result``), in Key Vault and where consumers put
  it. The Key Vault secret uses ``value``, not the write-only ``value_wo``: with a managed random resource the
  value is in state anyway, and ``value`` lets every plan detect and repair a hand-edited vault copy.
- No ``expiration_date``: rotation is explicit (a number in git), and an expiry would need a date maintained
  by hand per secret or a ``timestamp()`` that changes every plan. checkov CKV_AZURE_41 is skipped for these
  secrets with that reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cdktf
from cdktf_cdktf_provider_azurerm.key_vault_secret import KeyVaultSecret
from cdktf_cdktf_provider_random.bytes import Bytes
from cdktf_cdktf_provider_random.password import Password
from constructs import Construct

from building_blocks.secret_catalog import (
    PasswordPolicy,
    RandomBytesPolicy,
    SecretPolicy,
    check_secret_name,
)

__all__ = ["GeneratedSecret", "PasswordPolicy", "RandomBytesPolicy", "SecretPolicy"]

ROTATION_KEEPER = "rotation"
"""The one key of the random resource's ``keepers``."""


class GeneratedSecret(Construct):
    """One generated secret: a random resource (``Resource``) and its Key Vault copy (``key_vault_secret``).

    Attributes: :attr:`value` (the Terraform expression of the value, for consumers), :attr:`resource` (the
    ``random_password`` / ``random_bytes``), :attr:`key_vault_secret`, :attr:`name`, :attr:`policy`,
    :attr:`rotation`.
    """

    def __init__(self, scope: Construct, id_: str, *, name: str, policy: SecretPolicy, key_vault_id: str,
                 rotation: int = 0, description: str | None = None, tags: Mapping[str, str] | None = None,
                 depends_on: Sequence[cdktf.ITerraformDependable] = ()) -> None:
        """``name``: the Key Vault secret name (lowercase letters, digits, single hyphens, ≤ 63).
        ``policy``: a :class:`PasswordPolicy` or :class:`RandomBytesPolicy` (validated when it is built).
        ``key_vault_id``: the vault's resource id (usually a reference). ``rotation`` (default 0): raise it to
        replace the value. ``description`` (default none): added as the ``purpose`` tag. ``tags`` (default
        none): added to the secret's tags; the standard tags come from the stack's tag Aspect.
        ``depends_on`` (default none): what must exist before the vault accepts secrets (its ``data_plane_ready``
        wait after the role assignment).
        """
        super().__init__(scope, id_)
        check_secret_name(name)
        if not isinstance(policy, PasswordPolicy | RandomBytesPolicy):
            raise ValueError(f"GeneratedSecret {name!r}: field 'policy' = {policy!r}; allowed: a "
                             "PasswordPolicy or RandomBytesPolicy")
        if not isinstance(rotation, int) or isinstance(rotation, bool) or rotation < 0:
            raise ValueError(f"GeneratedSecret {name!r}: field 'rotation' = {rotation!r}; allowed: a "
                             "non-negative integer")
        if not isinstance(key_vault_id, str) or not key_vault_id:
            raise ValueError(f"GeneratedSecret {name!r}: field 'key_vault_id' = {key_vault_id!r}; allowed: "
                             "the id of a Key Vault (a reference such as key_vault.id)")
        self.name = name
        self.policy = policy
        self.rotation = rotation
        keepers = {ROTATION_KEEPER: str(rotation)}
        self.resource: Password | Bytes
        if isinstance(policy, PasswordPolicy):
            # Every argument explicit (none left to provider defaults), so the state-recovery command can copy
            # the configuration onto an imported instance exactly.
            self.resource = Password(
                self, "Resource",
                length=policy.length,
                upper=policy.upper,
                lower=policy.lower,
                numeric=policy.numeric,
                special=policy.special,
                min_upper=policy.min_upper,
                min_lower=policy.min_lower,
                min_numeric=policy.min_numeric,
                min_special=policy.min_special,
                override_special=policy.override_special if policy.special else None,
                keepers=keepers,
            )
            self.value: str = self.resource.result
        else:
            self.resource = Bytes(self, "Resource", length=policy.length, keepers=keepers)
            self.value = self.resource.base64
        own_tags = {"generated-by": self.resource.terraform_resource_type}
        if description:
            own_tags["purpose"] = description[:256]
        self.key_vault_secret = KeyVaultSecret(
            self, "key_vault_secret",
            name=name,
            key_vault_id=key_vault_id,
            value=self.value,
            content_type=policy.content_type,
            tags={**own_tags, **(tags or {})},
            depends_on=list(depends_on) or None,
        )

    @property
    def random_address(self) -> str:
        """Terraform address of the random resource, e.g.
        ``random_password.generated_secrets_postgres-admin-password_4A1A22F4``."""
        return _address(self.resource)

    @property
    def key_vault_secret_address(self) -> str:
        """Terraform address of the Key Vault secret."""
        return _address(self.key_vault_secret)


def _address(resource: cdktf.TerraformResource) -> str:
    logical_id = cdktf.TerraformStack.of(resource).get_logical_id(resource)
    return f"{resource.terraform_resource_type}.{logical_id}"
