"""Component versions: one catalog, one release file per environment, resolved to exact versions.

Public API (imports no provider package, so it is cheap to call from anywhere)::

    from infra.versions import load_release
    release = load_release("staging")          # Release: .environment, .components (ordered)
    component = release.components["api"]      # ResolvedComponent (frozen): name, kind, chart, repository,
                                               # version, image_tag, namespace, source, locked
    component.repository_for("crnwtdev1a2b.azurecr.io")   # fills {registry} for the company's own charts
    release.as_mapping()                       # {component: version}: platform-settings and `show --json`

Every problem in the files raises :class:`infra.errors.ConfigError` with one line naming the file and entry.
See docs/versions.md for the files, the flows and the ``infra versions`` commands.
"""

from infra.versions.model import (
    COMPONENT_KINDS,
    REGISTRY_PLACEHOLDER,
    Catalog,
    CatalogComponent,
    Release,
    ResolvedComponent,
)
from infra.versions.resolve import check_registry, load_catalog, load_release, load_releases

__all__ = [
    "COMPONENT_KINDS",
    "REGISTRY_PLACEHOLDER",
    "Catalog",
    "CatalogComponent",
    "Release",
    "ResolvedComponent",
    "check_registry",
    "load_catalog",
    "load_release",
    "load_releases",
]
