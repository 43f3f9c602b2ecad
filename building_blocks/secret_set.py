"""The generated secrets of one environment: one :class:`GeneratedSecret` per definition, rotation per name.

The stack builds it from :data:`building_blocks.secret_catalog.ENVIRONMENT_SECRETS` and the environment's
``secret_rotation``, then hands out :attr:`SecretSet.references` (name → Terraform expression): the
PostgreSQL block takes ``postgres-admin-password``, the Kubernetes layer takes :attr:`SecretSet.in_cluster`
and writes them as global secrets into the product namespace. ``infra secrets recover-state`` reads the same
object to learn what to re-import.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import cdktf
from constructs import Construct

from building_blocks.generated_secret import GeneratedSecret
from building_blocks.secret_catalog import ENVIRONMENT_SECRETS, SecretDefinition


class SecretSet(Construct):
    """Generated secrets backed up to one Key Vault. Each secret's construct id is its name, so its Terraform
    addresses read ``random_password.<set id>_<name>_<hash>``.

    Attributes: :attr:`secrets` (name → :class:`GeneratedSecret`), :attr:`references`, :attr:`in_cluster`,
    :attr:`key_vault_name`.
    """

    def __init__(self, scope: Construct, id_: str, *, key_vault_id: str, key_vault_name: str,
                 definitions: Iterable[SecretDefinition] = ENVIRONMENT_SECRETS,
                 rotation: Mapping[str, int] | None = None,
                 depends_on: Sequence[cdktf.ITerraformDependable] = ()) -> None:
        """``key_vault_id``: the vault's id (a reference). ``key_vault_name``: its name as a literal, for the
        recovery command (which must name the vault without Azure). ``definitions`` (default: the catalogue
        :data:`ENVIRONMENT_SECRETS`): the secrets; names must be unique. ``rotation`` (default: every secret
        at 0): name → rotation number; a name that is not defined is an error. ``depends_on`` (default none):
        what must exist before the vault accepts secrets (the vault's ``data_plane_ready`` wait after the
        deploying identity's role assignment)."""
        super().__init__(scope, id_)
        if not isinstance(key_vault_name, str) or not key_vault_name or "${" in key_vault_name:
            raise ValueError(f"SecretSet: field 'key_vault_name' = {key_vault_name!r}; allowed: the vault's "
                             "name as a literal string (not a reference)")
        self.key_vault_id = key_vault_id
        self.key_vault_name = key_vault_name
        self._depends_on = list(depends_on)
        self._rotation = dict(rotation or {})
        self.secrets: dict[str, GeneratedSecret] = {}
        self.definitions: dict[str, SecretDefinition] = {}
        for definition in definitions:
            self.add(definition)
        unknown = sorted(set(self._rotation) - set(self.secrets))
        if unknown:
            raise ValueError(f"SecretSet: rotation for {', '.join(map(repr, unknown))}, which is not a "
                             f"generated secret; allowed: {', '.join(self.secrets) or 'none defined'}")

    def add(self, definition: SecretDefinition) -> GeneratedSecret:
        """Create one more secret; refuses a name that is already taken."""
        if definition.name in self.secrets:
            raise ValueError(f"two generated secrets are named {definition.name!r}; allowed: one secret per "
                             "name in an environment")
        secret = GeneratedSecret(
            self, definition.name,
            name=definition.name,
            policy=definition.policy,
            key_vault_id=self.key_vault_id,
            rotation=self._rotation.get(definition.name, 0),
            description=definition.description,
            depends_on=self._depends_on,
        )
        self.secrets[definition.name] = secret
        self.definitions[definition.name] = definition
        return secret

    @property
    def references(self) -> dict[str, str]:
        """Every secret: name → Terraform expression of its value."""
        return {name: secret.value for name, secret in self.secrets.items()}

    @property
    def in_cluster(self) -> dict[str, str]:
        """The secrets delivered into the cluster: name → Terraform expression of the value."""
        return {name: secret.value for name, secret in self.secrets.items()
                if self.definitions[name].in_cluster}
