"""A JSON snapshot of every synthesized stack. Update with `.venv/bin/pytest --snapshot-update` only after
reading the diff."""

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tests.conftest import stack_names


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stack", stack_names())
def test_stack_matches_snapshot(stack, synthesized, json_snapshot):
    assert synthesized.stacks[stack] == json_snapshot
