"""Role assignments a block hands out on its own resource: one per id, principal types checked in one place."""

from __future__ import annotations

from cdktf_cdktf_provider_azurerm.role_assignment import RoleAssignment
from constructs import Construct

PRINCIPAL_TYPES = ("ServicePrincipal", "User", "Group")


class RoleGrants:
    """The grants of one block: ``grant`` makes a role assignment on ``scope`` as a child of ``owner`` with the
    construct id ``<id_prefix><id>``; ``assignments`` maps id → assignment. ``label`` names the granting method
    in error messages (``"KeyVault grant"``)."""

    def __init__(self, owner: Construct, *, scope: str, id_prefix: str, label: str) -> None:
        self._owner, self._scope, self._prefix, self._label = owner, scope, id_prefix, label
        self.assignments: dict[str, RoleAssignment] = {}

    def grant(self, id_: str, principal_id: str, role: str, *, principal_type: str | None,
              skip_aad_check: bool = False) -> RoleAssignment:
        """``role`` on the scope for ``principal_id``. ``principal_type`` None lets Azure find out (use it for
        whoever runs Terraform: a user locally, a service principal in the pipeline). ``skip_aad_check`` (default
        off): for a managed identity created in the same apply, which Entra ID may not have replicated yet."""
        if id_ in self.assignments:
            raise ValueError(f"{self._label} id {id_!r} is already used; allowed: a new id "
                             f"(existing: {', '.join(sorted(self.assignments))})")
        if principal_type is not None and principal_type not in PRINCIPAL_TYPES:
            raise ValueError(f"{self._label} principal_type = {principal_type!r}; allowed: "
                             f"{', '.join(PRINCIPAL_TYPES)}, or None")
        assignment = RoleAssignment(
            self._owner,
            f"{self._prefix}{id_}",
            scope=self._scope,
            role_definition_name=role,
            principal_id=principal_id,
            **({"principal_type": principal_type} if principal_type else {}),
            **({"skip_service_principal_aad_check": True} if skip_aad_check else {}),
        )
        self.assignments[id_] = assignment
        return assignment
