#!/usr/bin/env python3
"""``helm template`` of every ``helm_release`` of the synthesized stacks, against the real chart.

Run by the pipelines (docs/pipelines.md "Chart check"): the build stage templates every release whose chart
comes from a public Helm repository (``--source public``, no credentials needed, before any plan); each plan
job templates the releases of its environment whose chart is in an OCI registry (``--source oci``), right after
``steps/helm-registry-login.yml`` logged helm in. Together every release is rendered once per run by the pinned
helm (``steps/install-helm.yml``), so a value the chart refuses (its values.schema.json, a ``required``/``fail``
in a template, a type error) fails the run before Terraform plans or applies anything.

What is passed, per release (hashicorp/terraform-provider-helm v3 ``helm_release`` arguments): ``repository``
(``--repo`` for https, ``<repository>/<chart>`` for oci://), ``chart``, ``version``, ``namespace``, every
``values`` document (``-f``, in order, as Helm merges them), ``set`` (``--set``; ``type = "string"`` is
``--set-string``), ``set_list`` (``--set name={a,b}``) and ``set_sensitive`` (``--set``, value replaced).

Values only known at apply time: a Terraform reference (``${...}``) in a value is replaced by the string
``tf-unknown`` (a namespace reference is resolved to the literal name of the referenced namespace when the
stack holds it). A chart that needs such a value to be of another type than a string reports it; that is a
finding, not noise: the reference must then be of the right type at apply time too.

Standard library only (the plan jobs run it with the agent's python3, without the project's venv).
Exit 0 when every selected release rendered; 1 with one ``##vso[task.logissue type=error]`` line per release
that did not; 2 for bad arguments or an unreadable stack.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PLACEHOLDER = "tf-unknown"
SOURCES = ("public", "oci", "all")


class StackError(Exception):
    """A synthesized stack cannot be read."""


@dataclass
class Release:
    """One helm_release of one stack, with what ``helm template`` needs."""

    stack: str
    key: str
    name: str
    chart: str
    repository: str
    version: str
    namespace: str
    values: list[str] = field(default_factory=list)
    sets: list[tuple[str, str]] = field(default_factory=list)  # (flag, name=value)

    @property
    def source(self) -> str:
        return "oci" if self.repository.startswith("oci://") or self.chart.startswith("oci://") else "public"

    @property
    def label(self) -> str:
        return f"{self.stack}: helm_release.{self.key} ({self.name}, chart {self.chart} {self.version})"

    def chart_ref(self) -> list[str]:
        """The chart argument(s): ``oci://<repository>/<chart>``, or ``<chart> --repo <repository>``."""
        if self.chart.startswith("oci://"):
            return [self.chart]
        if self.repository.startswith("oci://"):
            return [f"{self.repository.rstrip('/')}/{self.chart}"]
        return [self.chart, "--repo", self.repository] if self.repository else [self.chart]


def replace_references(text: str) -> str:
    """Every ``${...}`` Terraform template sequence (braces balanced) replaced by :data:`PLACEHOLDER`."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("${", i):
            depth, j = 0, i + 1
            while j < len(text):
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                if depth == 0:
                    break
                j += 1
            out.append(PLACEHOLDER)
            i = j + 1
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def _namespace(value: Any, stack: dict[str, Any]) -> str:
    """A literal namespace, or the literal name of the kubernetes_namespace(_v1) a reference points at."""
    text = str(value or "default")
    if "${" not in text:
        return text
    inner = text.strip()
    if inner.startswith("${") and inner.endswith("}"):
        parts = inner[2:-1].split(".")
        if len(parts) >= 2 and parts[0] in ("kubernetes_namespace_v1", "kubernetes_namespace"):
            body = stack.get("resource", {}).get(parts[0], {}).get(parts[1], {})
            metadata = body.get("metadata")
            metadata = metadata[0] if isinstance(metadata, list) and metadata else metadata
            name = metadata.get("name") if isinstance(metadata, dict) else None
            if isinstance(name, str) and "${" not in name:
                return name
    return "default"


def _set_entries(body: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for entry in body.get("set") or []:
        flag = "--set-string" if str(entry.get("type", "")).lower() == "string" else "--set"
        out.append((flag, f"{entry['name']}={replace_references(str(entry.get('value', '')))}"))
    for entry in body.get("set_list") or []:
        items = ",".join(replace_references(str(v)) for v in entry.get("value") or [])
        out.append(("--set", f"{entry['name']}={{{items}}}"))
    for entry in body.get("set_sensitive") or []:
        out.append(("--set-string", f"{entry['name']}={PLACEHOLDER}"))  # never the secret itself
    return out


def releases(stacks_dir: Path, environments: list[str] | None) -> list[Release]:
    """Every helm_release of the selected stacks (all stacks with a cdk.tf.json when none are named)."""
    names = environments or sorted(p.name for p in stacks_dir.iterdir() if (p / "cdk.tf.json").is_file())
    out: list[Release] = []
    for name in names:
        path = stacks_dir / name / "cdk.tf.json"
        try:
            stack = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise StackError(f"cannot read the synthesized stack {path}: {error}") from None
        for key, body in sorted(stack.get("resource", {}).get("helm_release", {}).items()):
            out.append(Release(
                stack=name, key=key,
                name=replace_references(str(body.get("name", key))),
                chart=str(body.get("chart", "")),
                repository=str(body.get("repository") or ""),
                version=str(body.get("version") or ""),
                namespace=_namespace(body.get("namespace"), stack),
                values=[replace_references(str(v)) for v in body.get("values") or []],
                sets=_set_entries(body),
            ))
    return out


def command(release: Release, helm: str, work: Path) -> list[str]:
    """The ``helm template`` command line of one release; its values documents are written under ``work``."""
    args = [helm, "template", release.name, *release.chart_ref(), "--namespace", release.namespace]
    if release.version:
        args += ["--version", release.version]
    for index, document in enumerate(release.values):
        path = work / f"{release.stack}.{release.key}.values-{index}.yaml"
        path.write_text(document, encoding="utf-8")
        args += ["--values", str(path)]
    for flag, assignment in release.sets:
        args += [flag, assignment]
    return args


def _usage_error(message: str) -> str:
    return f"##vso[task.logissue type=error]helm_template.py: {message}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks-dir", type=Path, required=True, help="cdktf.out/stacks")
    parser.add_argument("--environment", action="append", help="only this stack (repeatable); default: all")
    parser.add_argument("--source", choices=SOURCES, required=True,
                        help="public: charts from https Helm repositories; oci: charts in OCI registries")
    parser.add_argument("--helm", default="helm", help="the helm executable (default: helm on the PATH)")
    args = parser.parse_args(argv)
    if not args.stacks_dir.is_dir():
        print(_usage_error(f"no synthesized stacks at {args.stacks_dir}"))
        return 2
    selected, other = [], []
    try:
        found = releases(args.stacks_dir, args.environment)
    except StackError as error:
        print(_usage_error(str(error)))
        return 2
    for release in found:
        (selected if args.source in ("all", release.source) else other).append(release)
    failed = 0
    with tempfile.TemporaryDirectory(prefix="helm-template-") as work:
        for release in selected:
            result = subprocess.run(command(release, args.helm, Path(work)), capture_output=True, text=True,
                                    check=False)
            if result.returncode != 0:
                failed += 1
                reason = next((line.strip() for line in result.stderr.splitlines() if line.strip()),
                              f"exit {result.returncode}")
                print(f"##vso[task.logissue type=error]{release.label}: helm template failed: {reason}")
            else:
                documents = result.stdout.count("\nkind:") + result.stdout.startswith("kind:")
                print(f"ok   {release.label}: {documents} manifests")
    for release in other:
        print(f"later {release.label}: chart from a {release.source} source, templated "
              f"{'in the build stage' if release.source == 'public' else 'in the plan job after the registry login'}")
    print(f"helm template: {len(selected) - failed} of {len(selected)} {args.source} releases rendered")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
