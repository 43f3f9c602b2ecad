"""Builds the cdktf App from the environment registry, and the ``main.py`` entry point around it.

``stack_names()`` and ``pipeline_targets()`` read only the registry (no provider import), so the CLI and the
pipeline tests can ask what exists without paying for the provider packages.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
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


def stack_names(registry: Registry | None = None) -> list[str]:
    """Every stack the app synthesizes."""
    return (registry or load_registry()).stack_names


def pipeline_targets(registry: Registry | None = None) -> list[str]:
    """The stacks deployed through pipelines: all but ``bootstrap`` (local state, applied once by hand)."""
    registry = registry or load_registry()
    return [e.name for e in registry.environments]


def build_app(registry: Registry, *, outdir: str | None = None,
              releases: dict[str, Release] | None = None):  # -> cdktf.App, imported lazily
    """The App with one stack per environment plus ``bootstrap``. ``releases`` default: every release file,
    loaded and cross-checked with the environments (``infra.versions.load_releases``)."""
    releases = releases if releases is not None else load_releases(registry)
    from infra import runtime

    runtime.prepare()
    import cdktf

    from infra.stacks import BootstrapStack, EnvironmentStack

    app = cdktf.App(outdir=outdir) if outdir else cdktf.App()
    with building_stack(registry.bootstrap.name, registry.bootstrap.source):
        BootstrapStack(app, settings=registry.bootstrap, config=registry.config,
                       environments={e.name: e.location for e in registry.environments})
    for settings in registry.environments:
        with building_stack(settings.name, settings.source):
            EnvironmentStack(app, settings=settings, config=registry.config, release=releases[settings.name])
    return app


def synth(outdir: Path | None = None) -> list[str]:
    """Synthesize every stack into ``outdir``, atomically: a failure leaves the previous output untouched.

    Under the cdktf CLI (which sets CDKTF_OUTDIR) the CLI owns the output folder and the App writes there.
    """
    outdir = outdir or Path(os.environ.get(OUTDIR_VARIABLE) or OUTDIR)
    registry = load_registry()
    releases = load_releases(registry)  # bad input fails here, before the provider imports and the jsii kernel
    if os.environ.get("CDKTF_OUTDIR"):
        build_app(registry, releases=releases).synth()
        return registry.stack_names
    staging = _staging_folder(outdir)  # an unwritable output folder fails here too, before the provider imports
    previous = outdir.with_name(f"{outdir.name}.previous")
    try:
        build_app(registry, outdir=str(staging), releases=releases).synth()
        if outdir.exists():
            shutil.rmtree(previous, ignore_errors=True)
            outdir.rename(previous)
        staging.rename(outdir)
        shutil.rmtree(previous, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not outdir.exists() and previous.exists():  # interrupted between the two renames: put it back
            previous.rename(outdir)
    return registry.stack_names


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
    """``python main.py``: synthesize every environment; bad input is one line on stderr and exit code 2.

    Errors: every failure is one line on stderr, never a traceback (``INFRA_DEBUG=1`` re-raises for one).
    Ctrl-C: "interrupted", exit code 130, the previous output left as it was."""
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        print(f"error: main.py takes no arguments, got {' '.join(argv)!r}; it synthesizes every environment "
              "(use `make synth`, or `cdktf synth` / `cdktf deploy <env>` for one stack)", file=sys.stderr)
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
        print(f"synthesized {len(names)} stacks into {where}/stacks/: {', '.join(names)}")
    return 0
