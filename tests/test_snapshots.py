"""A JSON snapshot of every stack of the fixture app (tests/fixtures: frozen copies of the environments and the
release files), so a snapshot changes only when code changes, never with a version bump. Update with
`.venv/bin/python -m pytest tests/test_snapshots.py --snapshot-update` only after reading the diff."""

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tests.conftest import fixture_stack_names


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stack", fixture_stack_names())
def test_stack_matches_snapshot(stack, fixture_synthesized, json_snapshot):
    assert fixture_synthesized.stacks[stack] == json_snapshot
