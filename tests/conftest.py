"""Shared fixtures: the registry (cheap) and the synthesized app, built once per test session and shared.

Two synthesized outputs exist, each built at most once per session, by whichever test process asks first:

- ``synthesized``: the live app (``environments/``, ``versions/``), what the pipelines deploy. Every property
  check (security invariants, secrets, policy scan, names, tags, helm releases against the release files) reads
  it, so a version bump that keeps the rules keeps them green.
- ``fixture_synthesized``: the app built from ``tests/fixtures/environments`` and ``tests/fixtures/versions``,
  frozen copies. The snapshot tests compare it, so snapshots change only when code changes, never with
  ``infra versions bump`` or ``infra versions release staging`` (tests/test_version_bump_keeps_main_green.py).

With pytest-xdist (``make test`` runs ``-n``) every worker is its own process: the first to ask synthesizes into
the session's shared temporary folder under an exclusive file lock, the others wait for the lock and read the
files (:func:`shared`; the policy scan shares its checkov results the same way). The output is shared
read-only: a digest taken when it was written is checked again when each process finishes, so a test that
changes the shared files fails the run.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra import runtime
from infra.registry import Registry, load_registry

runtime.prepare()
# A stack selection set for `make synth` in the calling shell or pipeline step must not reach the tests (they
# start main.py and the cdktf app path with this environment, and expect every stack unless they select).
os.environ.pop("INFRA_STACKS", None)

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT / "tests" / "fixtures"
FIXTURE_ENVIRONMENTS = FIXTURES / "environments"
FIXTURE_VERSIONS = FIXTURES / "versions"


@dataclass
class Synthesized:
    """The app as synthesized: ``stacks[name]`` is the parsed cdk.tf.json, ``outdir`` the cdktf.out folder
    (shared: read it, never write it), ``taggable[name]`` the (resource type, logical id, construct path) of
    every construct in that stack that ``building_blocks.tags.is_taggable`` accepts, taken from the construct
    tree when it was built."""

    stacks: dict[str, dict[str, Any]]
    outdir: Path
    taggable: dict[str, list[tuple[str, str, str]]]

    def resources(self, stack: str, resource_type: str) -> dict[str, dict[str, Any]]:
        """The resources of one type in one stack, by logical id ({} when there are none)."""
        return self.stacks[stack].get("resource", {}).get(resource_type, {})

    def all_resources(self, resource_type: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(stack, logical id, body) of every resource of one type across all stacks."""
        return [(stack, key, body) for stack in self.stacks
                for key, body in self.resources(stack, resource_type).items()]


def _taggable(app: Any) -> dict[str, list[tuple[str, str, str]]]:
    import cdktf

    from building_blocks.tags import is_taggable

    return {stack.node.id: [(node.terraform_resource_type, node.friendly_unique_id, node.node.path)
                            for node in stack.node.find_all() if is_taggable(node)]
            for stack in app.node.children if isinstance(stack, cdktf.TerraformStack)}


def tree_digest(folder: Path) -> str:
    """SHA-256 over every file's relative path and bytes under ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _session_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary folder shared by every process of this session (the xdist controller's basetemp)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def shared(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """``<session root>/<name>``, made once per session by ``build(folder)`` under an exclusive file lock: the
    first process to ask builds it, every other one waits for the lock and gets the finished folder."""
    root = _session_root(tmp_path_factory)
    folder = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not folder.exists():
            partial = root / f"{name}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            build(partial)
            partial.rename(folder)
    return folder


def shared_synth(tmp_path_factory: pytest.TempPathFactory, name: str, registry: Registry,
                 versions: Path | None = None) -> Iterator[Synthesized]:
    """Synthesize ``registry``'s whole app once per session into ``<session root>/synth-<name>``, then yield it
    to every process that asks; on teardown, fail if its files were changed."""

    def build(partial: Path) -> None:
        from infra.app import build_app
        from infra.versions import load_releases

        app = build_app(registry, outdir=str(partial / "cdktf.out"), releases=load_releases(registry, versions))
        app.synth()
        (partial / "taggable.json").write_text(json.dumps(_taggable(app)))
        (partial / "digest").write_text(tree_digest(partial / "cdktf.out"))

    folder = shared(tmp_path_factory, f"synth-{name}", build)
    outdir = folder / "cdktf.out"
    stacks = {stack: json.loads((outdir / "stacks" / stack / "cdk.tf.json").read_text())
              for stack in registry.stack_names}
    taggable = {stack: [tuple(entry) for entry in entries]
                for stack, entries in json.loads((folder / "taggable.json").read_text()).items()}
    yield Synthesized(stacks=stacks, outdir=outdir, taggable=taggable)
    assert tree_digest(outdir) == (folder / "digest").read_text(), \
        f"a test changed the shared synthesized output in {outdir}; copy it before changing anything"


@pytest.fixture(scope="session")
def registry() -> Registry:
    return load_registry()


@pytest.fixture(scope="session")
def synthesized(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    """The live app: every environment of environments/ with its release from versions/."""
    yield from shared_synth(tmp_path_factory, "live", registry)


@pytest.fixture(scope="session")
def fixture_registry() -> Registry:
    return load_registry(FIXTURE_ENVIRONMENTS)


@pytest.fixture(scope="session")
def fixture_synthesized(fixture_registry: Registry,
                        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    """The app of the frozen fixture environments and releases (tests/fixtures): what the snapshots show."""
    yield from shared_synth(tmp_path_factory, "fixture", fixture_registry, FIXTURE_VERSIONS)


def stack_names() -> list[str]:
    """The live stacks, for parametrize at collection time."""
    return load_registry().stack_names


def fixture_stack_names() -> list[str]:
    """The fixture stacks (tests/fixtures/environments), for parametrize at collection time."""
    return load_registry(FIXTURE_ENVIRONMENTS).stack_names
