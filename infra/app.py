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

from infra.errors import ConfigError
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
    BootstrapStack(app, settings=registry.bootstrap, config=registry.config,
                   environments={e.name: e.location for e in registry.environments})
    for settings in registry.environments:
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
    outdir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{outdir.name}.", dir=outdir.parent))
    try:
        build_app(registry, outdir=str(staging), releases=releases).synth()
        previous = outdir.with_name(f"{outdir.name}.previous")
        if outdir.exists():
            shutil.rmtree(previous, ignore_errors=True)
            outdir.rename(previous)
        staging.rename(outdir)
        shutil.rmtree(previous, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return registry.stack_names


def main(argv: list[str] | None = None) -> int:
    """``python main.py``: synthesize every environment; bad input is one line on stderr and exit code 2."""
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        print(f"error: main.py takes no arguments, got {' '.join(argv)!r}; it synthesizes every environment "
              "(use `make synth`, or `cdktf synth` / `cdktf deploy <env>` for one stack)", file=sys.stderr)
        return 2
    try:
        names = synth()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    if not os.environ.get("CDKTF_OUTDIR"):
        where = Path(os.environ.get(OUTDIR_VARIABLE) or OUTDIR)
        print(f"synthesized {len(names)} stacks into {where}/stacks/: {', '.join(names)}")
    return 0
