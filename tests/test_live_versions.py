"""The live version files (versions/) on their own: catalog consistency, every environment resolves, the live
app synthesizes every stack with its release.

The snapshot tests and every test that expects particular versions read the frozen copies in tests/fixtures,
so ``infra versions bump`` or ``infra versions release staging`` cannot turn them red
(tests/test_version_bump_keeps_main_green.py). These checks are what a bump must pass instead; they hold for any
valid set of files. (tests/test_versions_model.py "the committed files" adds: releases agree with the registry,
every file round-trips byte for byte; tests/test_versions_synth.py: every helm_release is its release's.)
"""

from __future__ import annotations

import pytest

from infra.registry import load_registry
from infra.versions import COMPONENT_KINDS, load_catalog, load_release
from infra.versions.model import OWN_KINDS, is_exact_version

LIVE_ENVIRONMENTS = [e.name for e in load_registry().environments]


def test_the_live_catalog_is_consistent():
    catalog = load_catalog()
    assert catalog.components
    for name, component in catalog.components.items():
        assert component.kind in COMPONENT_KINDS, name
        assert is_exact_version(component.version), name
        if component.kind in OWN_KINDS:
            assert component.image_tag and component.image_tag != "latest", name


@pytest.mark.parametrize("environment", LIVE_ENVIRONMENTS)
def test_every_live_environment_resolves_against_the_catalog(environment):
    catalog = load_catalog()
    release = load_release(environment)
    assert release.environment == environment and release.components
    for name, component in release.components.items():
        listed = catalog.components[name]  # every component a release runs is in the catalog ...
        assert (component.kind, component.chart, component.repository, component.namespace) == (
            listed.kind, listed.chart, listed.repository, listed.namespace), (environment, name)
        assert is_exact_version(component.version), (environment, name)  # ... at an exact version
        if component.kind in OWN_KINDS:
            assert component.image_tag and component.image_tag != "latest", (environment, name)


def test_the_live_app_synthesizes_every_stack(synthesized, registry):
    assert list(synthesized.stacks) == registry.stack_names
    for name, stack in synthesized.stacks.items():
        assert stack["terraform"]["backend"], name
        assert stack.get("resource"), name
    for environment in registry.environments:
        # The Kubernetes layer deploys each environment's release: at least one chart per environment.
        assert synthesized.resources(environment.name, "helm_release"), environment.name
