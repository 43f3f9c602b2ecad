"""The ``infra`` console script (installed by ``make setup``): one-line errors, non-zero exits, no tracebacks.

Command groups register themselves in :data:`GROUPS`; each module provides ``register(subparsers)`` that adds
its sub-commands with ``set_defaults(handler=...)``; a handler returns the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from infra.errors import ConfigError

# Modules that add a command group (`infra <group> ...`).
GROUPS: list[str] = ["infra.versions.cli", "infra.recovery.cli"]


# Set on the parsed namespace by the deepest (sub)command parser that ran, so that arguments left over are
# reported by that command ("infra versions check: unrecognized arguments: --json"), not by "infra".
_COMMAND_PARSER = "_command_parser"


class OneLineParser(argparse.ArgumentParser):
    """argparse with the house rule for bad arguments: one line on stderr, exit code 2."""

    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage first otherwise)
        self.exit(2, f"error: {self.prog}: {message}\n")

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def]
        namespace, extras = super().parse_known_args(args, namespace)
        if not hasattr(namespace, _COMMAND_PARSER):  # sub-parsers return first: the deepest one sets it
            setattr(namespace, _COMMAND_PARSER, self)
        return namespace, extras

    def parse_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def]
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            command: argparse.ArgumentParser = getattr(namespace, _COMMAND_PARSER, self)
            usage = " ".join(command.format_usage().split())
            command.error(f"unrecognized arguments: {' '.join(extras)}; allowed: {usage.removeprefix('usage: ')}")
        return namespace


def _environments(_: argparse.Namespace) -> int:
    from infra.app import stack_names

    print(" ".join(stack_names()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="infra", description="Operate the platform's environments.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    environments = commands.add_parser("environments", help="print every stack name, space-separated")
    environments.set_defaults(handler=_environments)
    for module in GROUPS:
        importlib.import_module(module).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except BrokenPipeError:  # `infra versions show dev --json | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
