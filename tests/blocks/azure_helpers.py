"""Shared GIVEN steps of the Azure building-block tests: a fresh stack with the azurerm provider, a namer."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import cdktf
from cdktf_cdktf_provider_azurerm.provider import AzurermProvider, AzurermProviderFeatures

from building_blocks.naming import Namer

TENANT = "00000000-0000-0000-0000-000000000000"
SUBSCRIPTION = "11111111-1111-1111-1111-111111111111"
NAMER = Namer(workload="nwt", environment="test", region="westeurope", unique_seed=SUBSCRIPTION)
SUBNET_ID = "/subscriptions/1/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/snet"
VNET_ID = "/subscriptions/1/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet"
WORKSPACE_ID = "/subscriptions/1/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/log"


def new_stack() -> cdktf.TerraformStack:
    app = cdktf.App()
    stack = cdktf.TerraformStack(app, "test")
    AzurermProvider(stack, "azurerm", features=[AzurermProviderFeatures()])
    return stack


def synth(build: Callable[[cdktf.TerraformStack], Any]) -> dict[str, Any]:
    """GIVEN a fresh stack, WHEN ``build(stack)`` adds blocks, THEN the synthesized JSON."""
    stack = new_stack()
    build(stack)
    return json.loads(cdktf.Testing.synth(stack))


def only(synthesized: dict[str, Any], resource_type: str) -> dict[str, Any]:
    """The one resource of ``resource_type`` (fails when there are none or several)."""
    resources = synthesized.get("resource", {}).get(resource_type, {})
    assert len(resources) == 1, f"{resource_type}: {list(resources)}"
    return next(iter(resources.values()))


def resources(synthesized: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return synthesized.get("resource", {}).get(resource_type, {})


def children(synthesized: dict[str, Any], resource_type: str, block: str) -> dict[str, dict[str, Any]]:
    """Resources of a type made by the block with construct id ``block``, keyed by their child id: the logical
    id without the block prefix and the hash suffix (``network_subnet_nodes_1EEC2399`` → ``subnet_nodes``)."""
    prefix = f"{block}_"
    return {
        logical_id[len(prefix) :].rsplit("_", 1)[0]: body
        for logical_id, body in resources(synthesized, resource_type).items()
        if logical_id.startswith(prefix)
    }
