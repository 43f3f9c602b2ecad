"""Rotation is explicit and per secret: raising one rotation number changes that secret's keepers and nothing
else in the synthesized stack; the same settings twice change nothing (a re-deploy keeps every secret)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import cdktf
import pytest

from building_blocks.secret_catalog import SECRET_NAMES
from infra.stacks import EnvironmentStack
from infra.versions import load_release


def build(registry, name: str, rotation: dict[str, int]) -> EnvironmentStack:
    settings = dataclasses.replace(registry.get(name), secret_rotation=rotation)
    return EnvironmentStack(cdktf.App(), settings=settings, config=registry.config,
                            release=load_release(settings.name))


def synth_environment(registry, name: str, rotation: dict[str, int]) -> dict[str, Any]:
    return json.loads(cdktf.Testing.synth(build(registry, name, rotation)))


def differences(before: Any, after: Any, path: tuple = ()) -> list[tuple]:
    """Every path where ``before`` and ``after`` differ (added, removed or changed leaves)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in sorted(set(before) | set(after)):
            found += differences(before.get(key, "<missing>"), after.get(key, "<missing>"), (*path, key))
        return found
    return [] if before == after else [path]


def random_resource_of(registry, secret: str) -> tuple[str, str]:
    """(resource type, logical id) of the random resource behind ``secret`` in dev."""
    address = build(registry, "dev", {}).generated_secrets.secrets[secret].random_address
    kind, _, logical_id = address.partition(".")
    return kind, logical_id


@pytest.fixture(scope="module")
def baseline(registry) -> dict[str, Any]:
    return synth_environment(registry, "dev", {})


def test_the_same_settings_synthesize_the_same_stack(registry, baseline):
    assert differences(baseline, synth_environment(registry, "dev", {})) == []


@pytest.mark.parametrize("secret", SECRET_NAMES)
def test_rotating_one_secret_changes_exactly_its_keepers(registry, baseline, secret):
    rotated = synth_environment(registry, "dev", {secret: 1})
    kind, logical_id = random_resource_of(registry, secret)
    assert differences(baseline, rotated) == [("resource", kind, logical_id, "keepers", "rotation")]
    assert baseline["resource"][kind][logical_id]["keepers"] == {"rotation": "0"}
    assert rotated["resource"][kind][logical_id]["keepers"] == {"rotation": "1"}


def test_rotation_zero_is_the_default(registry, baseline):
    explicit = synth_environment(registry, "dev", dict.fromkeys(SECRET_NAMES, 0))
    assert differences(baseline, explicit) == []
