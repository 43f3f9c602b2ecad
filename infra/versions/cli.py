"""``infra versions ...``: show, compare and change what runs where (see docs/versions.md).

Read commands: ``show``, ``diff``, ``check``. Write commands (one file each, atomic, comments kept):
``bump``, ``release``, ``lock``, ``unlock``, ``promote``, ``patch``, ``rollback``. Errors are one line and exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from infra.versions.model import Release, describe_pin
from infra.versions.ops import changes_between
from infra.versions.resolve import Loader


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def _print(lines: list[str]) -> int:
    for line in lines:
        print(line)
    return 0


def _show(args: argparse.Namespace) -> int:
    release = Loader().release(args.environment)
    if args.json:
        print(json.dumps(release.as_mapping(), indent=2))
        return 0
    follows = f", follows {release.follows}" if release.follows else ""
    lines = [f"{release.environment} ({release.source}{follows})"]
    rows = [["component", "kind", "version", "image tag", "namespace", "from"]]
    for component in release.components.values():
        origin = component.source + (", locked" if component.locked else "")
        rows.append(
            [
                component.name,
                component.kind,
                component.version,
                component.image_tag or "chart appVersion",
                component.namespace,
                origin,
            ]
        )
    lines += _table(rows) if release.components else ["(no components)"]
    return _print(lines)


def _diff_json(a: Release, b: Release) -> dict[str, Any]:
    def side(release: Release, name: str) -> dict[str, Any] | None:
        component = release.components.get(name)
        return None if component is None else {"version": component.version, "image_tag": component.image_tag}

    return {
        change.component: {a.environment: side(a, change.component), b.environment: side(b, change.component)}
        for change in changes_between(a.components, b.components)
    }


def _diff(args: argparse.Namespace) -> int:
    loader = Loader()
    a, b = loader.release(args.env_a), loader.release(args.env_b)
    changes = changes_between(a.components, b.components)
    if args.json:
        print(json.dumps(_diff_json(a, b), indent=2))
        return 0
    if not changes:
        return _print([f"{a.environment} and {b.environment} run the same versions"])
    rows = [["component", a.environment, b.environment]]
    for change in changes:
        same_version = (
            change.before is not None and change.after is not None and change.before[0] == change.after[0]
        )
        rows.append(
            [
                change.component,
                describe_pin(change.before, show_image=same_version),
                describe_pin(change.after, show_image=same_version),
            ]
        )
    return _print(_table(rows))


def _check(_: argparse.Namespace) -> int:
    from infra.registry import load_registry
    from infra.versions.resolve import check_registry, check_release_files

    loader = Loader()
    registry = load_registry()
    check_release_files(registry, loader.directory)
    releases = loader.releases()
    check_registry(releases, registry, loader.directory)
    print(
        f"ok: {loader.catalog.source} ({len(loader.catalog.components)} components); releases of "
        f"{len(releases)} environments: {', '.join(releases)}"
    )
    return 0


def _bump(args: argparse.Namespace) -> int:
    from infra.versions.ops import WARNING, bump

    for line in bump(args.component, args.version, image_tag=args.image_tag, allow_downgrade=args.allow_downgrade):
        print(line, file=sys.stderr if line.startswith(WARNING) else sys.stdout)
    return 0


def _release(args: argparse.Namespace) -> int:
    from infra.versions.ops import release

    return _print(release(args.environment))


def _lock(args: argparse.Namespace) -> int:
    from infra.versions.ops import lock

    return _print(lock(args.component, args.env))


def _unlock(args: argparse.Namespace) -> int:
    from infra.versions.ops import unlock

    return _print(unlock(args.component, args.env))


def _allow(args: argparse.Namespace) -> Any:
    from infra.versions.ops import Allow

    return Allow(removal=args.allow_removal, downgrade=args.allow_downgrade)


def _promote(args: argparse.Namespace) -> int:
    from infra.versions.ops import promote

    return _print(promote(args.source, args.target, allow=_allow(args)))


def _patch(args: argparse.Namespace) -> int:
    from infra.versions.ops import patch

    return _print(patch(args.component, args.version, args.env, image_tag=args.image_tag))


def _init(args: argparse.Namespace) -> int:
    from infra.versions.ops import init

    return _print(init(args.environment))


def _rollback(args: argparse.Namespace) -> int:
    from infra.versions.history import rollback

    return _print(rollback(args.environment, allow=_allow(args)))


def register(subparsers: Any) -> None:
    """Add ``infra versions`` and its sub-commands."""
    versions = subparsers.add_parser(
        "versions",
        help="component versions: show, diff, bump, release, lock, promote, patch, rollback",
        description="What runs where: the catalog (versions/catalog.yaml) and one release file per "
        "environment (versions/releases/<env>.yaml). See docs/versions.md.",
    )
    commands = versions.add_subparsers(dest="versions_command", required=True, metavar="command")

    show = commands.add_parser("show", help="the exact versions an environment runs")
    show.add_argument("environment")
    show.add_argument("--json", action="store_true", help="print an object component → chart version")
    show.set_defaults(handler=_show)

    diff = commands.add_parser("diff", help="the components whose version or image tag differ")
    diff.add_argument("env_a", metavar="env-a")
    diff.add_argument("env_b", metavar="env-b")
    diff.add_argument(
        "--json",
        action="store_true",
        help="print {component: {env-a: {version, image_tag} | null, env-b: ...}}",
    )
    diff.set_defaults(handler=_diff)

    check = commands.add_parser("check", help="validate the catalog and every release file (exit 0 or 2)")
    check.set_defaults(handler=_check)

    bump = commands.add_parser("bump", help="record a new latest version of a component in the catalog")
    bump.add_argument("component")
    bump.add_argument("version", help="exact chart version, e.g. 1.43.0 (cert-manager: v1.19.2)")
    bump.add_argument(
        "--image-tag",
        metavar="TAG",
        help="image tag; default: the version for services and integrations, the chart's "
        "appVersion for platform charts",
    )
    bump.add_argument(
        "--allow-downgrade", action="store_true", help="accept a version lower than the current"
    )
    bump.set_defaults(handler=_bump)

    release = commands.add_parser("release", help="set staging's unlocked components to the catalog's latest")
    release.add_argument("environment", help="the staging environment")
    release.set_defaults(handler=_release)

    for name, handler, text in (
        ("lock", _lock, "hold a component at its version in an environment"),
        ("unlock", _unlock, "lift a lock"),
    ):
        parser = commands.add_parser(name, help=text)
        parser.add_argument("component")
        parser.add_argument(
            "--env",
            required=True,
            metavar="ENV",
            help="an environment that lists its own versions (staging, production-*); not one that follows",
        )
        parser.set_defaults(handler=handler)

    promote = commands.add_parser("promote", help="copy one environment's versions exactly into another")
    promote.add_argument("source", metavar="from-env")
    promote.add_argument("target", metavar="to-env")
    _hazard_flags(promote)
    promote.set_defaults(handler=_promote)

    patch = commands.add_parser(
        "patch", help="move one component of staging or production to a newer patch release of its minor"
    )
    patch.add_argument("component")
    patch.add_argument("version", help="exact chart version with the same major.minor, e.g. 4.13.9")
    patch.add_argument("--env", required=True, metavar="ENV", help="an environment that lists its own versions")
    patch.add_argument(
        "--image-tag",
        metavar="TAG",
        help="image tag; default: the version for services and integrations, the chart's appVersion for "
        "platform charts",
    )
    patch.set_defaults(handler=_patch)

    init = commands.add_parser("init", help="create the release file of a new environment, from its kind")
    init.add_argument("environment")
    init.set_defaults(handler=_init)

    rollback = commands.add_parser(
        "rollback", help="restore an environment's previous release file from git history"
    )
    rollback.add_argument("environment")
    _hazard_flags(rollback)
    rollback.set_defaults(handler=_rollback)


def _hazard_flags(parser: argparse.ArgumentParser) -> None:
    """promote and rollback refuse removals and platform-chart downgrades unless the operator says so."""
    parser.add_argument("--allow-removal", action="store_true",
                        help="accept removing a component (its Helm release is uninstalled with what it created)")
    parser.add_argument("--allow-downgrade", action="store_true",
                        help="accept a lower version of a platform chart")
