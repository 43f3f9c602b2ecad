"""Standard tags on every taggable Azure resource, applied by one cdktf Aspect.

azurerm has no provider-level ``default_tags``, so :class:`StandardTags` visits every resource of a stack at
synth time and merges the standard set under the resource's own tags (a resource's own tag wins).
"""

from __future__ import annotations

from collections.abc import Mapping

import cdktf
import jsii
from constructs import IConstruct

MANAGED_BY = "cdktf"


def standard_tags(*, environment: str, owner: str, cost_centre: str, repository: str,
                  extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The tag set of one environment: the base keys, then ``extra`` (which may add keys, not drop them)."""
    tags = {
        "environment": environment,
        "owner": owner,
        "cost-centre": cost_centre,
        "managed-by": MANAGED_BY,
        "repository": repository,
    }
    tags.update(extra or {})
    return tags


def is_taggable(node: IConstruct) -> bool:
    """True for azurerm resources whose schema has a ``tags`` argument."""
    return (
        isinstance(node, cdktf.TerraformResource)
        and node.terraform_resource_type.startswith("azurerm_")
        and hasattr(type(node), "tags_input")
    )


@jsii.implements(cdktf.IAspect)
class StandardTags:
    """Aspect: ``Aspects.of(stack).add(StandardTags(tags))`` tags every taggable azurerm resource below it."""

    def __init__(self, tags: Mapping[str, str]) -> None:
        self._tags = dict(tags)

    def visit(self, node: IConstruct) -> None:
        if is_taggable(node):
            own = node.tags_input  # type: ignore[attr-defined]
            node.tags = {**self._tags, **(own if isinstance(own, Mapping) else {})}  # type: ignore[attr-defined]
