"""Synthesis reads the releases: every ``helm_release`` of an environment is its release file, nothing floats.

GIVEN the whole app synthesized once, WHEN each environment stack's ``helm_release`` resources are compared
with ``load_release(<environment>)``, THEN name, chart, repository, exact version and image tag agree, and a
stack that configures the helm provider deploys every component of its release and nothing else.
"""

from __future__ import annotations

import json
import re

import pytest

from infra.registry import load_registry
from infra.versions import load_release
from infra.versions.model import REGISTRY_PLACEHOLDER, is_exact_version

ENVIRONMENTS = [e.name for e in load_registry().environments]
_LATEST_TAG = re.compile(r"""(?i)["']?tag["']?\s*[:=]\s*["']?latest\b|image\.tag["'],\s*"value":\s*"latest""")


def helm_releases(synthesized, stack: str) -> dict[str, dict]:
    """Body of every helm_release in ``stack``, by its Helm release name."""
    return {body["name"]: body for _, body in synthesized.resources(stack, "helm_release").items()}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_helm_release_is_pinned_by_the_release_file(synthesized, environment: str) -> None:
    release = load_release(environment)
    for name, body in helm_releases(synthesized, environment).items():
        assert name in release.components, f"{environment}: helm_release {name!r} is not in {release.source}"
        component = release.components[name]
        assert body.get("version") == component.version, (environment, name, body.get("version"))
        assert is_exact_version(body["version"])
        assert body["chart"] == component.chart, (environment, name)
        if component.uses_registry:
            prefix, suffix = component.repository.split(REGISTRY_PLACEHOLDER)
            assert body["repository"].startswith(prefix) and body["repository"].endswith(suffix), body[
                "repository"
            ]
        else:
            assert body["repository"] == component.repository, (environment, name)
        text = json.dumps(body)
        if component.image_tag is not None:
            assert component.image_tag in text, (
                f"{environment}: {name} does not set image tag {component.image_tag}"
            )
        assert not _LATEST_TAG.search(text), f"{environment}: {name} sets a 'latest' image tag"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_stack_with_helm_deploys_exactly_its_release(synthesized, environment: str) -> None:
    stack = synthesized.stacks[environment]
    # Until the Kubernetes layer configures the helm provider in a stack, that stack deploys no chart at all;
    # once it does, the release file is the whole list.
    if "helm" not in stack.get("provider", {}):
        assert not helm_releases(synthesized, environment)
        return
    assert set(helm_releases(synthesized, environment)) == set(load_release(environment).components)
