"""Reads the catalog and the release files, validates every entry and resolves what each environment runs.

Release file (``releases/<environment>.yaml``)::

    follows: production-weu      # optional: catalog, or another environment
    components:                  # component → version | {version, image_tag} | null (= follow)
      sso-bridge:
        version: 0.9.3
        image_tag: 0.9.3
    exclude: [external-dns]      # optional, only with `follows: <environment>`
    locked: [cert-manager]       # optional, only without `follows`

Rules: without ``follows`` the file lists every component it runs with an exact version; ``follows: catalog``
runs the listed components at the catalog's latest version unless an entry gives one (a pin);
``follows: <environment>`` runs what that environment runs, minus ``exclude``, with the file's entries
added or pinned on top. Service and integration entries always state their image tag.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from infra.errors import ConfigError
from infra.versions.files import (
    catalog_path,
    display,
    parse_text,
    read_text,
    release_environments,
    release_path,
    versions_dir,
)
from infra.versions.model import (
    FOLLOWS_CATALOG,
    OWN_KINDS,
    Catalog,
    CatalogComponent,
    Release,
    ResolvedComponent,
    check_component_name,
    check_image_tag,
    check_version,
    fail,
    version_key,
)

if TYPE_CHECKING:
    from infra.registry import Registry

CATALOG_KEYS = ("components",)
COMPONENT_KEYS = ("kind", "chart", "repository", "namespace", "version", "image_tag", "description")
COMPONENT_REQUIRED = ("kind", "chart", "repository", "namespace", "version")
RELEASE_KEYS = ("follows", "components", "exclude", "locked")
ENTRY_KEYS = ("version", "image_tag")
ENTRY_ALLOWED = "a version such as 1.4.2, or a mapping {version: ..., image_tag: ...}"


@dataclass(frozen=True)
class Entry:
    """One release-file entry: the pinned version and image tag (None: the chart's appVersion)."""

    version: str
    image_tag: str | None

    @property
    def pin(self) -> tuple[str, str | None]:
        return (self.version, self.image_tag)


@dataclass(frozen=True)
class ReleaseFile:
    """A release file as written, validated but not yet resolved against the environment it follows."""

    environment: str
    source: str
    follows: str | None
    entries: dict[str, Entry | None]
    exclude: tuple[str, ...]
    locked: tuple[str, ...]
    where: dict[str, str]
    """component → ``file:line: components.<name>``, for messages."""


def _at(source: str, mapping: Any, key: Any) -> str:
    """``file:line`` of ``key`` in a round-trip mapping (``file`` when the position is unknown)."""
    try:
        line, _column = mapping.lc.key(key)
    except (AttributeError, KeyError, TypeError):
        return source
    return f"{source}:{line + 1}"


def _at_item(source: str, sequence: Any, index: int) -> str:
    try:
        line, _column = sequence.lc.item(index)
    except (AttributeError, KeyError, TypeError, IndexError):
        return source
    return f"{source}:{line + 1}"


def _top_mapping(document: Any, source: str, allowed: tuple[str, ...], required: str) -> CommentedMap:
    if not isinstance(document, CommentedMap):
        raise ConfigError(
            f"{source}: top level is {type(document).__name__ if document is not None else 'empty'}"
            f"; allowed: a mapping with {required!r}"
        )
    for key in document:
        if key not in allowed:
            raise fail(f"{_at(source, document, key)}: key", key, ", ".join(allowed))
    if required not in document:
        raise ConfigError(f"{source}: missing key {required!r}; allowed keys: {', '.join(allowed)}")
    return document


def parse_catalog(document: Any, source: str) -> Catalog:
    """Validate a parsed catalog document."""
    top = _top_mapping(document, source, CATALOG_KEYS, "components")
    components = top["components"]
    if not isinstance(components, CommentedMap) or not components:
        raise fail(
            f"{_at(source, top, 'components')}: components",
            components,
            "a non-empty mapping component → {kind, chart, repository, namespace, version, image_tag}",
        )
    result: dict[str, CatalogComponent] = {}
    for name, body in components.items():
        where = f"{_at(source, components, name)}: components.{name}"
        check_component_name(name, f"{where}: component name")
        if not isinstance(body, CommentedMap):
            raise fail(where, body, "a mapping with " + ", ".join(COMPONENT_KEYS))
        for key in body:
            if key not in COMPONENT_KEYS:
                raise fail(
                    f"{_at(source, body, key)}: components.{name}: key", key, ", ".join(COMPONENT_KEYS)
                )
        missing = [key for key in COMPONENT_REQUIRED if key not in body]
        if missing:
            raise ConfigError(
                f"{where}: missing {', '.join(missing)}; required: {', '.join(COMPONENT_REQUIRED)}"
            )
        component = CatalogComponent(
            name=name,
            kind=body["kind"],
            chart=body["chart"],
            repository=body["repository"],
            namespace=body["namespace"],
            version=body["version"],
            image_tag=body.get("image_tag"),
            description=str(body.get("description") or ""),
        )
        component.validate(
            where, lambda key, body=body, name=name: f"{_at(source, body, key)}: components.{name}.{key}"
        )
        result[name] = component
    return Catalog(source=source, components=result)


def _parse_entry(
    value: Any, where: str, component: CatalogComponent, *, follows: str | None, source: str
) -> Entry | None:
    if value is None:
        if follows is None:
            raise fail(
                where, None, ENTRY_ALLOWED + " (an empty entry means 'follow', which needs `follows:`)"
            )
        return None
    if isinstance(value, CommentedMap):
        for key in value:
            if key not in ENTRY_KEYS:
                raise fail(f"{where}: key", key, ", ".join(ENTRY_KEYS))
        if "version" not in value:
            raise ConfigError(f"{where}: missing 'version'; allowed: {ENTRY_ALLOWED}")
        name = component.name
        version = check_version(
            value["version"], f"{_at(source, value, 'version')}: components.{name}.version"
        )
        image_tag = value.get("image_tag")
        if image_tag is not None:
            check_image_tag(image_tag, f"{_at(source, value, 'image_tag')}: components.{name}.image_tag")
    elif isinstance(value, str | int | float):
        version, image_tag = check_version(value, where), None
    else:
        raise fail(where, value, ENTRY_ALLOWED)
    if image_tag is None and component.kind in OWN_KINDS:
        raise fail(
            f"{where}.image_tag",
            None,
            f"an image tag: {component.name} is a {component.kind} component "
            f"(write {{version: {version}, image_tag: <tag>}})",
        )
    check_known_version(str(version), component, where)
    return Entry(version=str(version), image_tag=image_tag)


def check_known_version(version: str, component: CatalogComponent, where: str) -> None:
    """The catalog is the list of versions that exist: a pin names the catalog's latest or an older version,
    written in the catalog's style (with or without a leading ``v``; Helm matches chart versions exactly). A
    version newer than the catalog's latest has never been recorded as published (``infra versions bump``
    records it); synthesis and ``infra versions check`` refuse it."""
    latest = component.version
    if version.startswith("v") != latest.startswith("v"):
        style = "with" if latest.startswith("v") else "without"
        raise fail(
            f"{where}: version",
            version,
            f"a version written {style} a leading 'v', like the catalog's {latest} for {component.name} "
            "(Helm matches chart versions exactly)",
        )
    if version_key(version) > version_key(latest):
        raise fail(
            f"{where}: version",
            version,
            f"{latest} or older: the catalog's latest {component.name} is {latest}, and a newer version is "
            f"not known to exist (record it first: infra versions bump {component.name} {version})",
        )


def _parse_names(document: CommentedMap, key: str, source: str) -> tuple[str, ...]:
    value = document.get(key)
    if value is None:
        return ()
    where = f"{_at(source, document, key)}: {key}"
    if not isinstance(value, CommentedSeq):
        raise fail(where, value, "a list of component names")
    names: list[str] = []
    for index, item in enumerate(value):
        item_where = f"{_at_item(source, value, index)}: {key}[{index}]"
        check_component_name(item, item_where)
        if item in names:
            raise fail(item_where, item, "each component once")
        names.append(item)
    return tuple(names)


def parse_release(environment: str, document: Any, source: str, catalog: Catalog) -> ReleaseFile:
    """Validate a parsed release document against the catalog (not yet against the environment it follows)."""
    top = _top_mapping(document, source, RELEASE_KEYS, "components")
    follows = top.get("follows")
    if "follows" in top and (not isinstance(follows, str) or not follows or follows == environment):
        raise fail(
            f"{_at(source, top, 'follows')}: follows", follows, "'catalog' or the name of another environment"
        )
    components = top["components"]
    if components is None:
        components = CommentedMap()
    if not isinstance(components, CommentedMap):
        raise fail(
            f"{_at(source, top, 'components')}: components",
            components,
            "a mapping component → version (or {version, image_tag})",
        )
    entries: dict[str, Entry | None] = {}
    where_of: dict[str, str] = {}
    for name, value in components.items():
        where = f"{_at(source, components, name)}: components.{name}"
        check_component_name(name, f"{where}: component name")
        component = catalog.component(name, where=where)
        entries[name] = _parse_entry(value, where, component, follows=follows, source=source)
        where_of[name] = where
    exclude = _parse_names(top, "exclude", source)
    for name in exclude:  # a typo would silently exclude nothing; a name the followed one lacks is harmless
        catalog.component(name, where=f"{_at(source, top, 'exclude')}: exclude")
    locked = _parse_names(top, "locked", source)
    if exclude and (follows is None or follows == FOLLOWS_CATALOG):
        raise ConfigError(
            f"{_at(source, top, 'exclude')}: exclude is allowed only with `follows: <environment>`"
            "; without it, list only the components the environment runs"
        )
    for name in exclude:
        if name in entries:
            raise ConfigError(
                f"{_at(source, top, 'exclude')}: component {name!r} is both excluded and listed "
                "under components; allowed: one of the two"
            )
    if locked and follows is not None:
        raise ConfigError(
            f"{_at(source, top, 'locked')}: locked is allowed only in an environment that lists "
            f"its own versions (this one follows {follows!r})"
        )
    for name in locked:
        if name not in entries:
            raise ConfigError(
                f"{_at(source, top, 'locked')}: locked component {name!r} is not under "
                f"components; allowed: {', '.join(entries) or 'none'}"
            )
    return ReleaseFile(
        environment=environment,
        source=source,
        follows=follows,
        entries=entries,
        exclude=exclude,
        locked=locked,
        where=where_of,
    )


def _resolved(
    component: CatalogComponent, pin: tuple[str, str | None], *, source: str, locked: bool = False
) -> ResolvedComponent:
    return ResolvedComponent(
        name=component.name,
        kind=component.kind,
        chart=component.chart,
        repository=component.repository,
        version=pin[0],
        image_tag=pin[1],
        namespace=component.namespace,
        source=source,
        locked=locked,
    )


class Loader:
    """Reads the version files once each and resolves releases; ``overrides`` (path → text) stands in for
    files about to be written, so a command validates its result before touching the disk."""

    def __init__(self, directory: Path | None = None, overrides: Mapping[Path, str] | None = None) -> None:
        self.directory = directory or versions_dir()
        self.overrides = dict(overrides or {})
        self._catalog: Catalog | None = None
        self._files: dict[str, ReleaseFile] = {}
        self._releases: dict[str, Release] = {}
        self._environments: list[str] | None = None

    def text(self, path: Path) -> str:
        if path in self.overrides:
            return self.overrides[path]
        return read_text(path)

    def document(self, path: Path) -> Any:
        """A fresh round-trip document of ``path`` (to edit and write back)."""
        return parse_text(self.text(path), display(path))

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            path = catalog_path(self.directory)
            self._catalog = parse_catalog(self.document(path), display(path))
        return self._catalog

    def environments(self) -> list[str]:
        """The environments with a release file, listed once per loader (every ``follows`` asks again: with
        hundreds of environments, listing the folder each time made loading quadratic)."""
        if self._environments is None:
            self._environments = release_environments(self.directory)
        return list(self._environments)

    def release_path(self, environment: str) -> Path:
        path = release_path(self.directory, environment)
        if path not in self.overrides and not path.exists():
            known = ", ".join(self.environments()) or "none"
            raise ConfigError(
                f"unknown environment {environment!r}: no release file {display(path)}; known: {known} "
                f"(a new environment gets its file with: infra versions init {environment})"
            )
        return path

    def file(self, environment: str) -> ReleaseFile:
        if environment not in self._files:
            path = self.release_path(environment)
            self._files[environment] = parse_release(
                environment, self.document(path), display(path), self.catalog
            )
        return self._files[environment]

    def release(self, environment: str, _chain: tuple[str, ...] = ()) -> Release:
        if environment in self._releases:
            return self._releases[environment]
        file = self.file(environment)
        catalog = self.catalog
        components: dict[str, ResolvedComponent] = {}
        if file.follows is None:
            for name, entry in file.entries.items():
                assert entry is not None  # parse_release refuses empty entries without `follows`
                components[name] = _resolved(
                    catalog.components[name], entry.pin, source=environment, locked=name in file.locked
                )
        elif file.follows == FOLLOWS_CATALOG:
            for name, entry in file.entries.items():
                component = catalog.components[name]
                if entry is None:
                    components[name] = _resolved(
                        component, (component.version, component.image_tag), source=FOLLOWS_CATALOG
                    )
                else:
                    components[name] = _resolved(component, entry.pin, source=environment)
        else:
            base = self._followed(file, _chain)
            for name, component in base.components.items():
                if name not in file.exclude:
                    components[name] = dataclasses.replace(component, locked=False)
            for name, entry in file.entries.items():
                if entry is None:
                    if name not in base.components:
                        raise ConfigError(
                            f"{file.where[name]}: has no version and {file.follows} does not run "
                            "it; allowed: a version (a pin) for a component of its own"
                        )
                    continue
                components[name] = _resolved(catalog.components[name], entry.pin, source=environment)
        release = Release(
            environment=environment,
            components=components,
            source=file.source,
            follows=file.follows,
            locked=frozenset(file.locked),
        )
        self._releases[environment] = release
        return release

    def _followed(self, file: ReleaseFile, chain: tuple[str, ...]) -> Release:
        assert file.follows is not None
        chain = (*chain, file.environment)
        if file.follows in chain:
            cycle = " → ".join((*chain[chain.index(file.follows) :], file.follows))
            raise ConfigError(
                f"{file.source}: follows = {file.follows!r} makes a cycle ({cycle}); allowed: "
                "'catalog' or an environment that does not follow back"
            )
        known = self.environments()
        if file.follows not in known and release_path(self.directory, file.follows) not in self.overrides:
            missing = display(release_path(self.directory, file.follows))
            raise fail(
                f"{file.source}: follows",
                file.follows,
                f"'catalog' or an environment with a release file ({', '.join(known)}); if {missing} was "
                f"deleted, restore it (git checkout -- {missing}) or create it (infra versions init "
                f"{file.follows})",
            )
        return self.release(file.follows, chain)

    def releases(self) -> dict[str, Release]:
        """Every environment's release, validated (the catalog first)."""
        self.catalog  # noqa: B018 - a broken catalog is reported as such, before any release naming it
        return {environment: self.release(environment) for environment in self.environments()}


def load_catalog(directory: Path | None = None) -> Catalog:
    """The validated catalog (``versions/catalog.yaml``, or ``$INFRA_VERSIONS_DIR/catalog.yaml``)."""
    return Loader(directory).catalog


def load_release(environment: str, directory: Path | None = None) -> Release:
    """What ``environment`` runs, every version exact; ConfigError (one line naming file and entry) on any
    problem in the catalog, its release file, or the release files it follows. Imports no provider package."""
    return Loader(directory).release(environment)


def load_releases(registry: Registry | None = None, directory: Path | None = None) -> dict[str, Release]:
    """Every release, validated; with ``registry``, also checked against the environments it defines."""
    loader = Loader(directory)
    if registry is not None:
        check_release_files(registry, loader.directory)
    releases = loader.releases()
    if registry is not None:
        check_registry(releases, registry, loader.directory)
    return releases


def check_release_files(registry: Registry, directory: Path | None = None) -> None:
    """Every environment has its release file: checked first, so that a deleted file is reported as itself
    and not as a problem of a file that follows it."""
    directory = directory or versions_dir()
    present = set(release_environments(directory))
    for environment in (e.name for e in registry.environments):
        if environment not in present:
            path = display(release_path(directory, environment))
            raise ConfigError(
                f"environment {environment!r} has no release file {path}; every environment needs one: "
                f"create it with `infra versions init {environment}` (or restore it: git checkout -- {path})"
            )


def check_registry(
    releases: Mapping[str, Release], registry: Registry, directory: Path | None = None
) -> None:
    """Cross-check releases and environment definitions: one release file per environment (none for the
    bootstrap stack), no service components where ``deploy_product`` is off, integrations only in
    enterprise environments."""
    directory = directory or versions_dir()
    names = [e.name for e in registry.environments]
    for environment in names:
        if environment not in releases:
            path = display(release_path(directory, environment))
            raise ConfigError(
                f"environment {environment!r} has no release file {path}; every environment needs one: "
                f"create it with `infra versions init {environment}` (or restore it: git checkout -- {path})"
            )
    for environment, release in releases.items():
        if environment not in names:
            allowed = ", ".join(names)
            raise ConfigError(
                f"{release.source}: no environment {environment!r} is defined in environments/ "
                f"(the bootstrap stack deploys no components); allowed: {allowed}"
            )
        settings = registry.get(environment)
        for component in release.components.values():
            if component.kind == "service" and not settings.deploy_product:
                raise ConfigError(
                    f"{release.source}: runs service {component.name!r} but environment "
                    f"{environment!r} sets deploy_product=False; allowed: no service components"
                )
            if component.kind == "integration" and settings.kind != "enterprise":
                raise ConfigError(
                    f"{release.source}: runs integration {component.name!r} in {settings.kind} "
                    f"environment {environment!r}; allowed: integrations only in enterprise "
                    "(customer-dedicated) environments"
                )
        # The two rules below are also the stack's (infra/stacks.py); here they fail before the provider import.
        where = f"environment {environment!r} ({settings.source})"
        specs = sorted(spec.component for spec in settings.integrations)
        versions = sorted(c.name for c in release.components.values() if c.kind == "integration")
        if specs != versions:
            raise ConfigError(
                f"{where}: field 'integrations' names {specs} but {release.source} runs the integration "
                f"components {versions}; allowed: the same components in both (each integration's config "
                "in the environment file, its version in the release file)"
            )
        if "external-dns" in release.components and not settings.has_azure_cluster:
            raise ConfigError(
                f"{release.source}: runs external-dns but environment {environment!r} (kind "
                f"{settings.kind}) has no Azure DNS zone; allowed: exclude: [external-dns] in {release.source}"
            )
