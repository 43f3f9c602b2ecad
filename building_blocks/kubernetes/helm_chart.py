"""The one way this repository installs a Helm chart: :class:`HelmChart`, a hardened ``helm_release``.

Every release, third-party or our own, goes through it, so the rules hold everywhere by construction: a pinned
chart version, ``atomic`` (a failed install or upgrade rolls back), ``cleanup_on_fail``, ``wait`` (and
``wait_for_jobs``), a bounded ``max_history``, a timeout, its own explicitly created namespace (never
``default``; ``create_namespace`` off) and values built as Python data, serialized with :func:`json.dumps`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cdktf
from cdktf_cdktf_provider_helm.release import Release
from constructs import Construct

from building_blocks.kubernetes.namespace import RESERVED_NAMESPACES, Namespace

# An exact SemVer 2.0 version, optionally with the leading "v" some charts use (cert-manager): no ranges
# (^1.2, ~1.2, >=1.0, 1.x, *), no "latest", no empty string.
PINNED_VERSION = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)
_RELEASE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$")  # Helm: DNS-1123 label, ≤ 53 characters
_CHART_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_REPOSITORY_SCHEMES = ("https://", "oci://")
MAX_HISTORY_RANGE = (1, 20)
TIMEOUT_RANGE = (60, 3600)


def check_pinned_version(owner: str, version: object) -> str:
    """Return ``version`` if it is one exact chart version; else raise ValueError naming ``owner``."""
    if not isinstance(version, str) or not PINNED_VERSION.match(version):
        raise ValueError(
            f"{owner} version = {version!r}; allowed: one exact chart version such as '4.11.3' or "
            "'v1.16.2' (no range, no 'latest', not empty)"
        )
    return version


@dataclass(frozen=True, kw_only=True)
class ChartVersion:
    """Which chart, from where, at which version, with which image tag: the record the stack hands to blocks.

    Blocks never read version files; the stack reads the release of its environment (see ``infra/versions``)
    and passes one of these per component.
    """

    chart: str
    """Required. The chart name in its repository (``ingress-nginx``, ``api``)."""
    version: str
    """Required. One exact chart version."""
    repository: str | None = None
    """``https://`` or ``oci://`` repository URL. Default: none — the company's own charts then come from the
    registry the stack hands to the service block (``oci://<registry>/helm``)."""
    image_tag: str | None = None
    """Image tag when it differs from the chart's appVersion. Required for the company's own services."""
    namespace: str | None = None
    """The namespace the component runs in. Default: none — the block's default namespace."""


class HelmChart(Construct):
    """One hardened ``helm_release`` (child ``Resource``) into an explicitly created :class:`Namespace`.

    Fixed, not configurable: ``atomic``, ``cleanup_on_fail``, ``wait``, ``create_namespace=False``,
    ``reset_values`` (Terraform's values replace whatever a manual ``helm upgrade`` left behind). The release
    depends on its namespace (by reference and explicitly).

    Exposes ``release`` (the ``helm_release``) and ``namespace``.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        release_name: str,
        chart: str,
        version: str,
        namespace: Namespace,
        repository: str | None = None,
        values: Mapping[str, Any] | None = None,
        timeout_seconds: int = 600,
        max_history: int = 10,
        wait_for_jobs: bool = True,
        depends_on: Sequence[cdktf.ITerraformDependable] = (),
    ) -> None:
        """Required: ``release_name`` (DNS-1123, ≤ 53), ``chart``, ``version`` (one exact version),
        ``namespace`` (a :class:`Namespace` construct — the release cannot go anywhere else).

        ``repository`` (default none: ``chart`` must then be a full ``oci://`` reference): ``https://`` or
        ``oci://`` URL. ``values`` (default none: the chart's defaults): typed Python data, serialized with
        ``json.dumps`` — never a YAML string. ``timeout_seconds`` (default 600, 60-3600): per Helm operation.
        ``max_history`` (default 10, 1-20): release revisions kept for ``helm rollback``. ``wait_for_jobs``
        (default on): also wait for the chart's Jobs. ``depends_on`` (default none): extra dependencies
        (e.g. a config map the pods mount)."""
        super().__init__(scope, id_)
        owner = f"HelmChart {release_name!r}"
        if not isinstance(release_name, str) or not _RELEASE_NAME.match(release_name):
            raise ValueError(
                f"HelmChart release_name = {release_name!r}; allowed: a DNS-1123 label of at most "
                "53 characters"
            )
        check_pinned_version(owner, version)
        if not isinstance(namespace, Namespace):
            raise ValueError(
                f"{owner} namespace = {namespace!r}; allowed: a Namespace construct (namespaces are "
                "created explicitly, never 'default')"
            )
        if namespace.literal_name in RESERVED_NAMESPACES:  # Namespace refuses these already; kept as a guard
            raise ValueError(
                f"{owner} namespace = {namespace.literal_name!r}; allowed: a non-reserved namespace"
            )
        if not isinstance(chart, str) or not chart:
            raise ValueError(f"{owner} chart = {chart!r}; allowed: a chart name")
        if repository is None:
            if not chart.startswith("oci://"):
                raise ValueError(
                    f"{owner} repository = None with chart {chart!r}; allowed: a repository URL, or "
                    "a full oci:// chart reference"
                )
        else:
            if not isinstance(repository, str) or not repository.startswith(_REPOSITORY_SCHEMES):
                raise ValueError(f"{owner} repository = {repository!r}; allowed: an https:// or oci:// URL")
            if not _CHART_NAME.match(chart):
                raise ValueError(
                    f"{owner} chart = {chart!r}; allowed: a chart name (lowercase letters, digits, "
                    "'.', '_', '-') when a repository is given"
                )
        if isinstance(values, str) or (values is not None and not isinstance(values, Mapping)):
            raise ValueError(
                f"{owner} values = {type(values).__name__}; allowed: a mapping of typed Python data "
                "(no YAML strings)"
            )
        try:
            serialized = json.dumps(dict(values or {}), sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"{owner} values are not JSON data ({error}); allowed: dict, list, str, int, "
                "float, bool, None"
            ) from None
        _check_int_range(owner, "timeout_seconds", timeout_seconds, TIMEOUT_RANGE)
        _check_int_range(owner, "max_history", max_history, MAX_HISTORY_RANGE)
        self.namespace = namespace
        self.values: dict[str, Any] = json.loads(serialized)
        self.release = Release(
            self,
            "Resource",
            name=release_name,
            chart=chart,
            repository=repository,
            version=version,
            namespace=namespace.name,
            create_namespace=False,
            atomic=True,
            cleanup_on_fail=True,
            wait=True,
            wait_for_jobs=wait_for_jobs,
            reset_values=True,
            max_history=max_history,
            timeout=timeout_seconds,
            values=[serialized] if values else None,
            depends_on=[namespace.resource, *depends_on],
        )


def _check_int_range(owner: str, field_name: str, value: object, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{owner} {field_name} = {value!r}; allowed: an integer from {low} to {high}")
