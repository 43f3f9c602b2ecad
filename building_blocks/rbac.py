"""Role assignments a block hands out on its own resource: one per id, principal types checked in one place;
and the wait for a new assignment to take effect."""

from __future__ import annotations

from collections.abc import Sequence

from cdktf_cdktf_provider_azurerm.role_assignment import RoleAssignment
from cdktf_cdktf_provider_time.sleep import Sleep
from constructs import Construct

PRINCIPAL_TYPES = ("ServicePrincipal", "User", "Group")

RBAC_PROPAGATION_SECONDS = 600
"""How long a new role assignment may take to take effect: "up to 10 minutes (600 seconds) after role
assignments is changed for role to be applied" (learn.microsoft.com/azure/key-vault/general/rbac-guide, "Known
limits and performance"; Azure RBAC documents the same bound for Azure Resource Manager's caches,
learn.microsoft.com/azure/role-based-access-control/troubleshooting)."""


def propagation_wait(scope: Construct, id_: str, *, assignments: Sequence[RoleAssignment],
                     seconds: int = RBAC_PROPAGATION_SECONDS) -> Sleep:
    """A ``time_sleep`` of ``seconds`` (default :data:`RBAC_PROPAGATION_SECONDS`) after ``assignments`` (at least
    one): whatever needs the roles to be in effect depends on it, not on the assignments.

    Why: azurerm's role assignment create returns once Azure Resource Manager returns the assignment on five reads
    in a row (hashicorp/terraform-provider-azurerm v4.55.0, internal/services/authorization/
    role_assignment_resource.go:393-408); that is replication of the assignment, not its effect on the data plane
    or on a workload's token. A resource that uses the role at once can get 403 (Key Vault: ``ForbiddenByRbac``),
    and the provider does not retry it. The sleep runs when it is created and again when an assignment is
    replaced (its ``triggers`` are the assignment ids), never on later applies. The stack must configure the
    ``time`` provider (``TimeProvider``)."""
    if not assignments:
        raise ValueError(f"propagation_wait {id_!r}: supply at least one role assignment, got none")
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 < seconds <= 1800:
        raise ValueError(f"propagation_wait {id_!r} seconds = {seconds!r}; allowed: an integer from 1 to 1800")
    return Sleep(
        scope,
        id_,
        create_duration=f"{seconds}s",
        triggers={f"assignment_{index}": assignment.id for index, assignment in enumerate(assignments)},
        depends_on=list(assignments),
    )


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
