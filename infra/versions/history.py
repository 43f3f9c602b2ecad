"""``infra versions rollback``: restore an environment's previous release file from git history.

A rollback is a reviewed commit: the command only writes the file (validated, locks held, atomically); the
user reviews ``git diff``, commits, and the environment's pipeline applies it like any other change.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from infra.errors import ConfigError
from infra.versions.files import display
from infra.versions.ops import Allow, changes_between, commit, follower_lines, hazard_lines, hazards
from infra.versions.resolve import Loader


@dataclass(frozen=True)
class Version:
    """One committed version of a file: the commit that wrote it and the path it had there."""

    commit: str
    path: str
    subject: str


def _git(repository: Path, *args: str) -> str:
    try:
        result = subprocess.run(
            ["git", "-C", str(repository), *args], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise ConfigError("rollback needs git, which is not installed or not on PATH") from None
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[0]
        raise ConfigError(f"git {' '.join(args[:2])} failed: {reason}")
    return result.stdout


def history(path: Path) -> tuple[Path, str, list[Version]]:
    """(repository root, path relative to it, versions newest first) of ``path``, following renames."""
    directory = path.parent
    try:
        root = Path(_git(directory, "rev-parse", "--show-toplevel").strip())
    except ConfigError:
        raise ConfigError(
            f"{display(path)}: not inside a git repository; rollback restores versions from git history"
        ) from None
    relative = path.resolve().relative_to(root.resolve()).as_posix()
    output = _git(root, "log", "--follow", "--format=%x00%H%x01%s", "--name-only", "--", relative)
    versions: list[Version] = []
    for record in output.split("\0")[1:]:
        header, _, names = record.partition("\n")
        commit_id, _, subject = header.partition("\x01")
        changed = [line for line in names.splitlines() if line.strip()]
        versions.append(Version(commit=commit_id, path=changed[-1] if changed else relative, subject=subject))
    return root, relative, versions


def rollback(environment: str, *, allow: Allow | None = None, directory: Path | None = None) -> list[str]:
    """Write the version of ``environment``'s release file from before its last committed change. A removal or
    a platform-chart downgrade it would cause (in ``environment`` or an environment that follows it) is refused
    unless ``allow`` allows it: the previous commit may predate a component (``cluster-issuers``)."""
    loader = Loader(directory)
    loader.releases()
    path = loader.release_path(environment)
    root, relative, versions = history(path)
    if _git(root, "status", "--porcelain", "--", relative).strip():
        raise ConfigError(
            f"{display(path)}: has uncommitted changes; rollback restores the version before the "
            "last commit, so commit or discard them first (git diff / git restore)"
        )
    if not versions:
        raise ConfigError(
            f"{display(path)}: has no committed version in git history; nothing to roll back to"
        )
    if len(versions) < 2:
        raise ConfigError(
            f"{display(path)}: no previous version in git history: its only version is commit "
            f"{versions[0].commit[:12]} ({versions[0].subject}); nothing to roll back to"
        )
    current, previous = versions[0], versions[1]
    text = _git(root, "show", f"{previous.commit}:{previous.path}")
    releases_before = loader.releases()
    before = releases_before[environment]
    action = f"rollback {environment} to {previous.commit[:12]}"
    try:
        releases_after = commit(loader, path, text, action=action, allow=allow or Allow(),
                                first=environment).releases()
    except ConfigError as error:
        message = str(error)
        if "refused" not in message:
            message = f"{action} refused: {message}"
        raise ConfigError(message) from None
    after = releases_after[environment]
    changes = changes_between(before.components, after.components)
    lines = [
        f"{environment}: restored {display(path)} as of commit {previous.commit[:12]} ({previous.subject}),",
        f"  undoing commit {current.commit[:12]} ({current.subject}):",
    ]
    lines += [c.describe() for c in changes] or [
        "  (no version changes: only comments, order or locks differ)"
    ]
    lines += follower_lines(releases_before, releases_after, environment)
    lines += hazard_lines(hazards(releases_before, releases_after), releases_before, releases_after,
                          first=environment)
    lines.append(
        f"review it (git diff {relative}), then commit it; the {environment} pipeline applies the commit"
    )
    return lines
