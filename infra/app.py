"""Builds the cdktf App from the environment registry, and the ``main.py`` entry point around it.

``stack_names()`` and ``pipeline_targets()`` read only the registry (no provider import), so the CLI and the
pipeline tests can ask what exists without paying for the provider packages.

Stack selection: ``INFRA_STACKS`` (``make synth ENV=<env>``, ``make diff/deploy ENV=<env>``, or set by hand for
``cdktf synth/diff/deploy``, which run ``main.py`` through cdktf.json's "app") names the stacks to construct and
synthesize; unset or empty means every stack. The cdktf CLI passes the app no stack name (it runs the "app"
command with ``CDKTF_OUTDIR`` set and picks the stack from the manifest afterwards: hashicorp/terraform-cdk
v0.21.0, packages/@cdktf/cli-core/src/lib/synth-stack.ts), so the selection is an environment variable. Every
environment definition and release file is still loaded and cross-checked, before any provider import; the
bootstrap stack always lists every environment's state container. A selected stack's files are byte for byte
those of a full synth (tests/test_stack_selection.py, for every stack).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from infra.errors import (
    ConfigError,
    building_stack,
    debug_requested,
    describe,
    exit_quietly,
    interrupts_recorded,
)
from infra.platform_config import REPO_ROOT
from infra.registry import Registry, load_registry
from infra.versions import Release, load_releases

OUTDIR = REPO_ROOT / "cdktf.out"
# Where `python main.py` writes, when not under the cdktf CLI; tests point it at a temporary folder.
OUTDIR_VARIABLE = "INFRA_OUTDIR"
# Which stacks `python main.py` builds: names separated by commas or spaces; unset or empty = every stack.
STACKS_VARIABLE = "INFRA_STACKS"


def stack_names(registry: Registry | None = None) -> list[str]:
    """Every stack the app synthesizes."""
    return (registry or load_registry()).stack_names


def pipeline_targets(registry: Registry | None = None) -> list[str]:
    """The stacks deployed through pipelines: all but ``bootstrap`` (local state, applied once by hand)."""
    registry = registry or load_registry()
    return [e.name for e in registry.environments]


def select_stacks(registry: Registry, names: Iterable[str] | str | None = None) -> list[str]:
    """The stacks to build, in the registry's order: ``names`` (a list, or text separated by commas or spaces),
    by default ``$INFRA_STACKS``; every stack when empty. An unknown name is a ConfigError listing the allowed
    ones. Reads only the registry: no provider import."""
    where = "stack selection"
    if names is None:
        names = os.environ.get(STACKS_VARIABLE, "")
        where = f"{STACKS_VARIABLE}={names!r} (make ENV=<env>)"
    asked = names.replace(",", " ").split() if isinstance(names, str) else list(names)
    known = registry.stack_names
    if not asked:
        return known
    unknown = [name for name in asked if name not in known]
    if unknown:
        raise ConfigError(f"{where}: unknown stack {unknown[0]!r}; allowed: {', '.join(known)} "
                          "(one or more, separated by commas or spaces; empty = every stack)")
    return [name for name in known if name in asked]


def build_app(registry: Registry, *, outdir: str | None = None,
              releases: dict[str, Release] | None = None,
              stacks: Iterable[str] | None = None):  # -> cdktf.App, imported lazily
    """The App with one stack per environment plus ``bootstrap``, or only the ``stacks`` named (default: all;
    see :func:`select_stacks`). ``releases`` default: every release file, loaded and cross-checked with the
    environments (``infra.versions.load_releases``), whichever stacks are built."""
    selected = set(select_stacks(registry, [] if stacks is None else stacks))
    releases = releases if releases is not None else load_releases(registry)
    from infra import runtime

    runtime.prepare()
    import cdktf

    from infra.stacks import BootstrapStack, EnvironmentStack

    app = cdktf.App(outdir=outdir) if outdir else cdktf.App()
    if registry.bootstrap.name in selected:
        # Every environment's state account and container, whichever environments are being built.
        with building_stack(registry.bootstrap.name, registry.bootstrap.source):
            BootstrapStack(app, settings=registry.bootstrap, config=registry.config,
                           environments={e.name: e.location for e in registry.environments})
    for settings in registry.environments:
        if settings.name not in selected:
            continue
        with building_stack(settings.name, settings.source):
            EnvironmentStack(app, settings=settings, config=registry.config, release=releases[settings.name])
    return app


def synth(outdir: Path | None = None, stacks: Iterable[str] | str | None = None) -> list[str]:
    """Synthesize the selected stacks (default ``$INFRA_STACKS``, empty = all) into ``outdir``, atomically: a
    failure leaves the previous output untouched; on success the folder holds exactly the stacks built.

    Under the cdktf CLI (which sets CDKTF_OUTDIR) the CLI owns the output folder and the App writes there.
    """
    outdir = outdir or Path(os.environ.get(OUTDIR_VARIABLE) or OUTDIR)
    registry = load_registry()
    releases = load_releases(registry)  # bad input fails here, before the provider imports and the jsii kernel
    names = select_stacks(registry, stacks)  # ... and so does an unknown stack name
    if os.environ.get("CDKTF_OUTDIR"):
        build_app(registry, releases=releases, stacks=names).synth()
        return names
    staging = _staging_folder(outdir)  # an unwritable output folder fails here too, before the provider imports
    previous = outdir.with_name(f"{outdir.name}.previous")
    try:
        build_app(registry, outdir=str(staging), releases=releases, stacks=names).synth()
        if outdir.exists():
            shutil.rmtree(previous, ignore_errors=True)
            outdir.rename(previous)
        staging.rename(outdir)
        shutil.rmtree(previous, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not outdir.exists() and previous.exists():  # interrupted between the two renames: put it back
            previous.rename(outdir)
    return names


def _staging_folder(outdir: Path) -> Path:
    """A new empty folder beside ``outdir`` to synthesize into; ConfigError (one line) when ``outdir`` cannot
    be written: its parent cannot be created, is a file, or is read-only, or ``outdir`` is a file."""
    where = f"output folder {outdir}" + (f" (from {OUTDIR_VARIABLE})" if os.environ.get(OUTDIR_VARIABLE) else "")
    allowed = f"a folder path whose parent can be created and written (set {OUTDIR_VARIABLE} to one)"
    if outdir.exists() and not outdir.is_dir():
        raise ConfigError(f"{where}: is a file, not a folder; allowed: {allowed}")
    blocker = next((p for p in outdir.parents if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise ConfigError(f"{where}: cannot be created, {blocker} is a file; allowed: {allowed}")
    try:
        outdir.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{outdir.name}.", dir=outdir.parent))
    except OSError as error:
        raise ConfigError(f"{where}: cannot be created in {outdir.parent}: {error.strerror or error}; allowed: "
                          f"{allowed}") from None


def main(argv: list[str] | None = None) -> int:
    """``python main.py``: synthesize every environment, or those in ``$INFRA_STACKS``; bad input is one line on
    stderr and exit code 2.

    Errors: every failure is one line on stderr, never a traceback (``INFRA_DEBUG=1`` re-raises for one).
    Ctrl-C: "interrupted", exit code 130, the previous output left as it was."""
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        print(f"error: main.py takes no arguments, got {' '.join(argv)!r}; it synthesizes every environment, "
              f"or those named in {STACKS_VARIABLE} (use `make synth` or `make synth ENV=<env>`)", file=sys.stderr)
        return 2
    with interrupts_recorded() as interrupted:
        try:
            names = synth()
        except BaseException as error:
            if interrupted() or isinstance(error, KeyboardInterrupt):
                where = Path(os.environ.get(OUTDIR_VARIABLE) or OUTDIR)
                exit_quietly(f"error: interrupted; {where} is as it was", 130)
            if isinstance(error, SystemExit) or debug_requested():
                raise
            print(f"error: {describe(error)}", file=sys.stderr)
            return error.exit_code if isinstance(error, ConfigError) else 1
    if not os.environ.get("CDKTF_OUTDIR"):
        where = Path(os.environ.get(OUTDIR_VARIABLE) or OUTDIR)
        print(f"synthesized {len(names)} stack{'s' * (len(names) != 1)} into {where}/stacks/: {', '.join(names)}")
    return 0
