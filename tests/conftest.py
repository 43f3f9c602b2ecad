"""Shared fixtures: the registry (cheap) and one synthesis of the whole app per test session (the provider
imports and the jsii kernel take a few seconds even when deferred, so it happens once)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra import runtime
from infra.registry import Registry, load_registry

runtime.prepare()

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Synthesized:
    """The app as synthesized: ``stacks[name]`` is the parsed cdk.tf.json, ``app`` the construct tree."""

    app: Any
    stacks: dict[str, dict[str, Any]]
    outdir: Path

    def resources(self, stack: str, resource_type: str) -> dict[str, dict[str, Any]]:
        """The resources of one type in one stack, by logical id ({} when there are none)."""
        return self.stacks[stack].get("resource", {}).get(resource_type, {})

    def all_resources(self, resource_type: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(stack, logical id, body) of every resource of one type across all stacks."""
        return [(stack, key, body) for stack in self.stacks
                for key, body in self.resources(stack, resource_type).items()]


@pytest.fixture(scope="session")
def registry() -> Registry:
    return load_registry()


@pytest.fixture(scope="session")
def synthesized(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    from infra.app import build_app

    outdir = tmp_path_factory.mktemp("cdktf.out")
    app = build_app(registry, outdir=str(outdir))
    app.synth()
    stacks = {
        name: json.loads((outdir / "stacks" / name / "cdk.tf.json").read_text())
        for name in registry.stack_names
    }
    return Synthesized(app=app, stacks=stacks, outdir=outdir)


def stack_names() -> list[str]:
    """For parametrize at collection time."""
    return load_registry().stack_names
