#!/usr/bin/env python3
"""The upstream reference files of every pinned third-party chart version, pulled from the real charts.

Run by the build job before ``make test`` (``pipelines/templates/steps/chart-references.yml``, docs/pipelines.md
"Chart references"): ``tests/test_chart_values.py`` checks every third-party ``helm_release``'s values against
``<chart>/<version>/values.yaml`` (and ``values.schema.json`` where the chart ships one) in the folder named by
``CHART_REFERENCES``; on a laptop or in the shared CI that folder is the reference copies in ``../shared/charts``,
on an Azure DevOps agent there is no such folder, so this script makes it from the charts themselves.

Which versions: every chart version pinned anywhere, read through the project's own version model
(:mod:`infra.versions`): the catalog's latest version of each component and what each release file resolves to
(``follows`` included). Which charts are third-party is the rule of ``tests/test_chart_values.py``: a catalog
component whose repository is not the environment's own registry (``{registry}``, the company's OCI charts,
which have no upstream reference and are skipped here).

How: for each (repository, chart, version), the pinned helm (``steps/install-helm.yml``) runs
``helm pull <chart> --repo <repository> --version <version> --untar --untardir <empty temp dir>`` (an ``oci://``
repository: ``helm pull <repository>/<chart> --version ...``); helm expands the archive into
``<untardir>/<chart name>/`` (helm/helm v3.19.0 ``pkg/action/pull.go`` ``Run``: ``--repo`` finds the chart in the
repository's index, ``--untar`` expands into ``--untardir``; ``pkg/chartutil/expand.go`` ``Expand``: the folder is
the chart's name from its ``Chart.yaml``, files copied verbatim). ``values.yaml``, ``values.schema.json`` (if the
chart ships one) and ``Chart.yaml`` are copied to ``<out>/<chart>/<version>/``, and ``<out>/README.md`` lists what
was pulled from where (the test refuses a references folder without a README).

The folder is written whole or not at all: everything goes to a temporary folder beside ``--out`` that replaces
``--out`` only when every chart was fetched (an earlier output of this script is replaced; any other existing
folder is refused).

Exit 0 when every chart version was fetched; 1 with one ``##vso[task.logissue type=error]`` line per chart
version that could not be; 2 for bad arguments or a broken version file (one line).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from infra.errors import ConfigError
from infra.versions import REGISTRY_PLACEHOLDER, load_catalog, load_releases

# The first line of every README this script writes: how it recognizes a folder it may replace.
MARKER = "# Chart references pulled by pipelines/scripts/chart_references.py"
COPIED = ("values.yaml", "values.schema.json", "Chart.yaml")
ERROR = "##vso[task.logissue type=error]chart_references.py: "


class UsageError(Exception):
    """Bad arguments or version files: one line, exit 2."""


@dataclass
class Pin:
    """One third-party chart version, and who pins it."""

    chart: str
    version: str
    repository: str
    pinned_by: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.chart} {self.version} from {self.repository}"

    def pull_command(self, helm: str, untardir: Path) -> list[str]:
        if self.repository.startswith("oci://"):
            reference = [f"{self.repository.rstrip('/')}/{self.chart}"]
        else:
            reference = [self.chart, "--repo", self.repository]
        return [helm, "pull", *reference, "--version", self.version, "--untar", "--untardir", str(untardir)]


def pinned_third_party() -> list[Pin]:
    """Every third-party (chart, version) that the catalog or a release file pins, sorted by chart and version.
    ConfigError from the version files is passed on."""
    pins: dict[tuple[str, str], Pin] = {}

    def add(chart: str, version: str, repository: str, who: str) -> None:
        if REGISTRY_PLACEHOLDER in repository:
            return  # the company's own charts (oci://{registry}/helm): no upstream reference
        pin = pins.setdefault((chart, version), Pin(chart=chart, version=version, repository=repository))
        if pin.repository != repository:
            raise UsageError(
                f"chart {chart} {version} is pinned from two repositories, {pin.repository} ({pin.pinned_by[0]}) "
                f"and {repository} ({who}); allowed: one repository per chart name (the references are keyed "
                "by chart and version)"
            )
        if who not in pin.pinned_by:
            pin.pinned_by.append(who)

    for component in load_catalog().components.values():
        add(component.chart, component.version, component.repository, "catalog")
    for environment, release in load_releases().items():
        for component in release.components.values():
            add(component.chart, component.version, component.repository, environment)
    return [pins[key] for key in sorted(pins)]


def _reason(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in (result.stderr or result.stdout or "").splitlines() if line.strip()]
    return lines[0] if lines else f"helm exited with {result.returncode}"


def fetch(pin: Pin, helm: str, destination: Path) -> list[str]:
    """Pull ``pin`` and copy its reference files to ``destination/<chart>/<version>/``; the names of the files
    copied. Raises RuntimeError with the one-line reason when the chart cannot be fetched."""
    with tempfile.TemporaryDirectory(prefix="chart-pull-") as work:
        untardir = Path(work) / "untar"
        try:
            result = subprocess.run(pin.pull_command(helm, untardir), capture_output=True, text=True,
                                    check=False, timeout=600)
        except FileNotFoundError:
            raise RuntimeError(f"helm not found ({helm}): steps/install-helm.yml must run first") from None
        except subprocess.TimeoutExpired:
            raise RuntimeError("helm pull did not finish within 600 s") from None
        if result.returncode != 0:
            raise RuntimeError(f"helm pull failed: {_reason(result)}")
        chart_dir = untardir / pin.chart
        if not (chart_dir / "values.yaml").is_file():
            found = ", ".join(sorted(p.name for p in untardir.iterdir())) if untardir.is_dir() else "nothing"
            raise RuntimeError(f"the pulled chart has no {pin.chart}/values.yaml (helm expanded: {found})")
        try:
            metadata = YAML(typ="safe", pure=True).load((chart_dir / "Chart.yaml").read_text(encoding="utf-8"))
        except (OSError, YAMLError) as error:
            raise RuntimeError(f"cannot read the pulled chart's Chart.yaml: {error}") from None
        version = str((metadata or {}).get("version", "")) if isinstance(metadata, dict) else ""
        if version != pin.version:
            raise RuntimeError(f"helm pulled version {version or '(none)'}, not {pin.version}")
        target = destination / pin.chart / pin.version
        target.mkdir(parents=True)
        copied = []
        for name in COPIED:
            if (chart_dir / name).is_file():
                shutil.copyfile(chart_dir / name, target / name)
                copied.append(name)
        return copied


def readme(pins: list[Pin], copied: dict[tuple[str, str], list[str]]) -> str:
    lines = [
        MARKER,
        "",
        "Upstream files of every pinned third-party chart version, taken from the chart archive `helm pull` fetched",
        "(values.yaml, values.schema.json where the chart ships one, Chart.yaml). Read by tests/test_chart_values.py",
        "through CHART_REFERENCES. Not a chart: it cannot be rendered.",
        "",
        "| Chart | Version | Repository | Files | Pinned by |",
        "| --- | --- | --- | --- | --- |",
    ]
    for pin in pins:
        files = ", ".join(copied[(pin.chart, pin.version)])
        lines.append(f"| {pin.chart} | {pin.version} | {pin.repository} | {files} | {', '.join(pin.pinned_by)} |")
    return "\n".join(lines) + "\n"


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; allowed: a folder this script writes")
    if out.is_dir() and any(out.iterdir()):
        first = (out / "README.md").read_text(encoding="utf-8").splitlines()[:1] if (
            out / "README.md").is_file() else []
        if first != [MARKER]:
            raise UsageError(f"--out {out} is a folder this script did not write; allowed: a new or empty folder, "
                             "or an earlier output of this script (replaced)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True,
                        help="the references folder to write (CHART_REFERENCES of make test)")
    parser.add_argument("--helm", default="helm", help="the helm executable (default: helm on the PATH)")
    args = parser.parse_args(argv)
    out = args.out.absolute()
    try:
        _check_out(out)
        pins = pinned_third_party()
    except (UsageError, ConfigError) as error:
        print(ERROR + str(error), flush=True)
        return 2
    if not pins:
        print(ERROR + "no third-party chart is pinned in the catalog or a release file", flush=True)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        copied: dict[tuple[str, str], list[str]] = {}
        failed = 0
        for pin in pins:
            try:
                copied[(pin.chart, pin.version)] = fetch(pin, args.helm, staging)
            except RuntimeError as error:
                failed += 1
                print(f"{ERROR}cannot fetch chart {pin.label}: {error}", flush=True)
                continue
            print(f"ok   {pin.label}: {', '.join(copied[(pin.chart, pin.version)])} "
                  f"(pinned by {', '.join(pin.pinned_by)})", flush=True)
        if failed:
            print(f"chart references: {failed} of {len(pins)} chart versions could not be fetched; "
                  f"{out} was not written", flush=True)
            return 1
        (staging / "README.md").write_text(readme(pins, copied), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    print(f"chart references: {len(pins)} chart versions in {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
