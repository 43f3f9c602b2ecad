"""The version model: catalog components, resolved components, releases, and the rules every value obeys.

Nothing here reads files: :mod:`infra.versions.resolve` turns the YAML files into these objects. Every rule
failure raises :class:`~infra.errors.ConfigError` with one line naming the file, the entry, the value received
and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from infra.errors import ConfigError

ComponentKind = Literal["platform", "service", "integration"]
COMPONENT_KINDS: tuple[str, ...] = get_args(ComponentKind)
# Kinds the company builds itself: charts in the company's registry, image tag always set.
OWN_KINDS: frozenset[str] = frozenset({"service", "integration"})

# Stands for the container registry's login server (e.g. crnwtdev1a2b.azurecr.io) in a catalog repository;
# the stack that deploys the component fills it in with ResolvedComponent.repository_for(...).
REGISTRY_PLACEHOLDER = "{registry}"
# `follows: catalog` in a release file: listed components run the catalog's latest version.
FOLLOWS_CATALOG = "catalog"

# semver.org 2.0.0, with the optional leading "v" some charts publish (cert-manager: v1.19.1). Exact only.
_SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
# A component name is its Helm release name: lowercase DNS label, at most 53 characters (Helm's limit).
_COMPONENT = re.compile(r"^[a-z0-9]([a-z0-9-]{0,51}[a-z0-9])?$")
_NAMESPACE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_CHART = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$")
# Docker/OCI tag grammar.
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_HOST = r"(\{registry\}|[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?)"
_REPOSITORY = re.compile(rf"^(https://{_HOST}(/[A-Za-z0-9._~/-]*)?|oci://{_HOST}(/[A-Za-z0-9._~/-]*)?)$")
_LOGIN_SERVER = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?$")

VERSION_ALLOWED = "an exact semantic version such as 1.4.2 or v1.19.1 (no ranges, no wildcards, no 'latest')"
IMAGE_TAG_ALLOWED = "an image tag of letters, digits, '_', '.', '-' (≤ 128, not 'latest')"


def fail(where: str, value: Any, allowed: str) -> ConfigError:
    """The one error shape: ``<where> = <value>; allowed: <allowed>``."""
    return ConfigError(f"{where} = {value!r}; allowed: {allowed}")


def check_version(value: Any, where: str) -> str:
    """``value`` if it is an exact semantic version string, else ConfigError."""
    if not isinstance(value, str):
        hint = " written as a quoted string" if isinstance(value, int | float) else ""
        raise fail(where, value, VERSION_ALLOWED + hint)
    if not _SEMVER.fullmatch(value):
        raise fail(where, value, VERSION_ALLOWED)
    return value


def check_image_tag(value: Any, where: str) -> str:
    if not isinstance(value, str):
        hint = " (write it as a quoted string)" if isinstance(value, int | float) else ""
        raise fail(where, value, IMAGE_TAG_ALLOWED + hint)
    if value == "latest" or not _IMAGE_TAG.fullmatch(value):
        raise fail(where, value, IMAGE_TAG_ALLOWED)
    return value


def check_component_name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _COMPONENT.fullmatch(value):
        raise fail(
            where, value, "a lowercase DNS label of at most 53 characters (it is the Helm release name)"
        )
    return value


def is_exact_version(value: str) -> bool:
    return bool(_SEMVER.fullmatch(value))


def version_key(value: str) -> tuple[Any, ...]:
    """Sort key in semver precedence (build metadata ignored, a pre-release sorts before its release)."""
    match = _SEMVER.fullmatch(value)
    if match is None:
        raise ValueError(f"not an exact semantic version: {value!r}")
    major, minor, patch, pre, _build = match.groups()
    if pre is None:
        pre_key: tuple[Any, ...] = ((1,),)
    else:
        pre_key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
        pre_key = ((0,), *pre_key)
    return (int(major), int(minor), int(patch), pre_key)


@dataclass(frozen=True, kw_only=True)
class CatalogComponent:
    """One deployable component as the catalog lists it, with its latest known version."""

    name: str
    kind: ComponentKind
    chart: str
    """Chart name inside ``repository``."""
    repository: str
    """``https://`` Helm repository, or ``oci://`` registry path (``{registry}`` = the company's registry)."""
    namespace: str
    version: str
    """Latest known chart version."""
    image_tag: str | None
    """Latest known image tag; None: the chart's appVersion. Always set for service and integration kinds."""
    description: str = ""

    def validate(self, where: str, at: Callable[[str], str] | None = None) -> None:
        """Check every field; ``where`` names the entry, ``at(field)`` (optional) the field's own position."""

        def w(name: str) -> str:
            return at(name) if at else f"{where}.{name}"

        check_component_name(self.name, where)
        if self.kind not in COMPONENT_KINDS:
            raise fail(w("kind"), self.kind, ", ".join(COMPONENT_KINDS))
        if not isinstance(self.chart, str) or not _CHART.fullmatch(self.chart):
            raise fail(w("chart"), self.chart, "a chart name: lowercase letters, digits, '.', '_', '-'")
        if not isinstance(self.repository, str) or not _REPOSITORY.fullmatch(self.repository):
            raise fail(
                w("repository"),
                self.repository,
                "https://<helm repository> or oci://<registry>/<path>, where the host may be {registry} "
                "(the environment's container registry)",
            )
        if not isinstance(self.namespace, str) or not _NAMESPACE.fullmatch(self.namespace):
            raise fail(w("namespace"), self.namespace, "a Kubernetes namespace (lowercase DNS label)")
        check_version(self.version, w("version"))
        if self.image_tag is not None:
            check_image_tag(self.image_tag, w("image_tag"))
        elif self.kind in OWN_KINDS:
            raise fail(
                f"{where}.image_tag",
                None,
                f"an image tag: {self.kind} components are built by the "
                "company and always name the image they run",
            )


@dataclass(frozen=True)
class Catalog:
    """Every deployable component, in file order."""

    source: str
    """The catalog file, as shown in messages."""
    components: Mapping[str, CatalogComponent]

    def component(self, name: str, *, where: str) -> CatalogComponent:
        """The catalog entry ``name``; ConfigError naming ``where`` (the asking entry) when it is unknown."""
        found = self.components.get(name)
        if found is None:
            raise ConfigError(
                f"{where}: unknown component {name!r}: not in {self.source}; allowed: "
                f"{', '.join(self.components)}"
            )
        return found


@dataclass(frozen=True, kw_only=True)
class ResolvedComponent:
    """One component as an environment runs it: everything a ``helm_release`` needs, exact."""

    name: str
    """Component name, also the Helm release name."""
    kind: ComponentKind
    chart: str
    repository: str
    """``https://...`` Helm repository or ``oci://...`` registry path; ``{registry}`` in it stands for the
    environment's container registry login server: use :meth:`repository_for`."""
    version: str
    """Exact chart version."""
    image_tag: str | None
    """Image tag to set; None means the chart's appVersion (never None for service/integration kinds)."""
    namespace: str
    source: str = ""
    """Where this version is written: ``catalog`` or the environment whose release file states it."""
    locked: bool = False
    """Locked in this environment's release file (``infra versions lock``)."""

    @property
    def uses_registry(self) -> bool:
        """True when the chart comes from the environment's own container registry."""
        return REGISTRY_PLACEHOLDER in self.repository

    def repository_for(self, registry: str | None) -> str:
        """The repository URL with ``{registry}`` replaced by ``registry`` (a login server such as
        ``crnwtdev1a2b.azurecr.io``). ``registry`` may be None when :attr:`uses_registry` is False."""
        if not self.uses_registry:
            return self.repository
        if not registry or not _LOGIN_SERVER.fullmatch(registry):
            raise ValueError(
                f"component {self.name!r}: repository {self.repository!r} needs registry = a "
                f"container registry login server such as 'crnwtdev1a2b.azurecr.io', got {registry!r}"
            )
        return self.repository.replace(REGISTRY_PLACEHOLDER, registry)

    @property
    def pin(self) -> tuple[str, str | None]:
        """(version, image_tag): what a release records and what a diff compares."""
        return (self.version, self.image_tag)


@dataclass(frozen=True)
class Release:
    """What one environment runs: its components in release-file order, every version exact."""

    environment: str
    components: dict[str, ResolvedComponent]
    source: str = ""
    """The release file, as shown in messages."""
    follows: str | None = None
    """``catalog``, another environment's name, or None (the file lists every version itself)."""
    locked: frozenset[str] = field(default_factory=frozenset)

    def as_mapping(self) -> dict[str, str]:
        """{component: chart version}: the one view shared by the ``platform-settings`` config map and
        ``infra versions show --json``."""
        return {name: component.version for name, component in self.components.items()}

    def image_tags(self) -> dict[str, str]:
        """{component: image tag} for the components that set one (the others run the chart's appVersion)."""
        return {name: c.image_tag for name, c in self.components.items() if c.image_tag is not None}


def describe_pin(pin: tuple[str, str | None] | None, *, show_image: bool = False) -> str:
    """``1.2.3``, ``1.2.3 (image 1.2.3-hotfix)`` or ``-`` for an absent component, for messages and tables."""
    if pin is None:
        return "-"
    version, image_tag = pin
    if image_tag is None:
        return f"{version} (chart appVersion)" if show_image else version
    if image_tag != version or show_image:
        return f"{version} (image {image_tag})"
    return version
