"""The commands that change version files: bump, release, lock, unlock, promote, patch, init (rollback:
history.py).

Every command follows the same steps, so that a failed command leaves every file unchanged:

1. load and validate the catalog and every release (a broken file stops the command before it writes);
2. edit one file's round-trip document (comments, order and quoting are kept);
3. validate the result as if written: every release resolved again with the new text standing in;
4. refuse if any locked component would change, lose its lock or disappear;
5. write the one file atomically (temporary file in the same directory, then ``os.replace``).

Each returns the lines to print.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from infra.errors import ConfigError
from infra.versions.files import catalog_path, display, release_path, render, write_atomic
from infra.versions.model import (
    FOLLOWS_CATALOG,
    OWN_KINDS,
    Release,
    ResolvedComponent,
    check_image_tag,
    check_version,
    describe_pin,
    version_key,
)
from infra.versions.resolve import Loader

Pin = tuple[str, str | None]
WARNING = "warning: "
"""Lines starting with this go to stderr (``infra.versions.cli``); the command still succeeds."""


@dataclass(frozen=True)
class Change:
    """One component that differs between two releases (None: absent on that side)."""

    component: str
    before: Pin | None
    after: Pin | None

    def describe(self) -> str:
        show_image = self.before is not None and self.after is not None and self.before[0] == self.after[0]
        if self.before is None:
            return f"+ {self.component} {describe_pin(self.after)}"
        if self.after is None:
            return f"- {self.component} {describe_pin(self.before)}"
        return (
            f"  {self.component}: {describe_pin(self.before, show_image=show_image)} → "
            f"{describe_pin(self.after, show_image=show_image)}"
        )


def changes_between(
    before: Mapping[str, ResolvedComponent], after: Mapping[str, ResolvedComponent]
) -> list[Change]:
    """Components whose version or image tag differ: in ``before``'s order, then the additions."""
    changes = [
        Change(name, component.pin, after[name].pin if name in after else None)
        for name, component in before.items()
        if name not in after or after[name].pin != component.pin
    ]
    changes += [Change(name, None, component.pin) for name, component in after.items() if name not in before]
    return changes


def _unlock_hint(names: list[str], environment: str) -> str:
    return "; ".join(f"infra versions unlock {name} --env {environment}" for name in names)


def refuse_locked(before: Release, after: Release, action: str) -> None:
    """ConfigError when ``action`` would change, remove or unlock a component locked in ``before``."""
    problems: list[str] = []
    names: list[str] = []
    for name in sorted(before.locked):
        old = before.components[name]
        new = after.components.get(name)
        if new is None:
            problems.append(f"{name} (locked at {describe_pin(old.pin)}) would be removed")
        elif new.pin != old.pin:
            problems.append(
                f"{name} (locked at {describe_pin(old.pin)}) would change to {describe_pin(new.pin)}"
            )
        elif name not in after.locked:
            problems.append(f"{name} (locked at {describe_pin(old.pin)}) would lose its lock")
        else:
            continue
        names.append(name)
    if problems:
        raise ConfigError(
            f"{before.source}: {action} refused, locked in {before.environment}: "
            f"{'; '.join(problems)}; lift the lock first: {_unlock_hint(names, before.environment)}"
        )


# --- what a promote or rollback removes or downgrades --------------------------------------------------------

# Charts whose maintainers support moving one minor version at a time: "We recommend that you upgrade
# cert-manager one minor version at a time, always choosing the latest patch version for the minor version"
# (https://cert-manager.io/docs/installation/upgrade/). A jump over a minor version, either way, is flagged.
ONE_MINOR_AT_A_TIME: Mapping[str, str] = {"cert-manager": "https://cert-manager.io/docs/installation/upgrade/"}


@dataclass(frozen=True)
class Allow:
    """What a promote or rollback may do on purpose (the operator's flags); by default neither."""

    removal: bool = False
    """``--allow-removal``: drop a component from an environment (Helm uninstalls its release and what the
    chart created, e.g. the ClusterIssuers of ``cluster-issuers``)."""
    downgrade: bool = False
    """``--allow-downgrade``: move a platform chart to a lower version (CRDs and stored objects of the newer
    version may not be readable by the older one)."""


@dataclass(frozen=True)
class Hazard:
    """One removal or platform-chart downgrade in one environment."""

    environment: str
    component: str
    kind: str  # "removal" | "downgrade"
    before: Pin
    after: Pin | None
    chart: str = ""

    def describe(self, environments: str | None = None) -> str:
        where = environments or self.environment
        if self.kind == "removal":
            return f"removes {self.component} {describe_pin(self.before)} from {where}"
        assert self.after is not None
        return f"downgrades platform chart {self.component} {self.before[0]} → {self.after[0]} in {where}"


def _grouped(found: list[Hazard], first: str | None) -> list[str]:
    """One phrase per (kind, component, versions), naming every environment it happens in (``first`` first)."""
    groups: dict[tuple[str, str, Pin, Pin | None], list[str]] = {}
    for hazard in sorted(found, key=lambda h: h.environment != first):
        groups.setdefault((hazard.kind, hazard.component, hazard.before, hazard.after), []).append(hazard.environment)
    return [Hazard(environments[0], component, kind, before, after).describe(" and ".join(environments))
            for (kind, component, before, after), environments in groups.items()]


def _minor(version: str) -> tuple[int, int]:
    major, minor = version_key(version)[:2]
    return int(major), int(minor)


def hazards(before: Mapping[str, Release], after: Mapping[str, Release]) -> list[Hazard]:
    """Every component that ``after`` removes from an environment of ``before``, and every platform chart it
    moves to a lower version, in environment and component order."""
    found: list[Hazard] = []
    for environment, old in before.items():
        new = after.get(environment)
        if new is None:
            continue
        for name, component in old.components.items():
            now = new.components.get(name)
            if now is None:
                found.append(Hazard(environment, name, "removal", component.pin, None, component.chart))
            elif component.kind == "platform" and version_key(now.version) < version_key(component.version):
                found.append(Hazard(environment, name, "downgrade", component.pin, now.pin, component.chart))
    return found


def minor_jumps(before: Mapping[str, Release], after: Mapping[str, Release]) -> list[str]:
    """Notes for charts of :data:`ONE_MINOR_AT_A_TIME` that move by more than one minor version."""
    notes: list[str] = []
    for environment, old in before.items():
        new = after.get(environment)
        for name, component in old.components.items():
            now = new.components.get(name) if new is not None else None
            if now is None or component.chart not in ONE_MINOR_AT_A_TIME:
                continue
            (a_major, a_minor), (b_major, b_minor) = _minor(component.version), _minor(now.version)
            if a_major != b_major or abs(a_minor - b_minor) > 1:
                notes.append(f"note: {name} in {environment} moves {component.version} → {now.version}, more than "
                             f"one minor version; its maintainers support one minor version at a time "
                             f"({ONE_MINOR_AT_A_TIME[component.chart]}): go through each minor version")
    return notes


def refuse_hazards(found: list[Hazard], action: str, allow: Allow, *, first: str | None = None) -> None:
    """ConfigError (one line) when ``found`` holds a removal or downgrade that ``allow`` does not allow;
    ``first``: the environment the command names, mentioned first."""
    refused = [h for h in found if (h.kind == "removal" and not allow.removal)
               or (h.kind == "downgrade" and not allow.downgrade)]
    if not refused:
        return
    flags = [flag for kind, flag in (("removal", "--allow-removal"), ("downgrade", "--allow-downgrade"))
             if any(h.kind == kind for h in refused)]
    why = []
    if any(h.kind == "removal" for h in refused):
        why.append("a removed component's Helm release is uninstalled with everything its chart created")
    if any(h.kind == "downgrade" for h in refused):
        why.append("an older chart may not read the CRDs and objects the newer one stored")
    for chart in sorted({h.chart for h in refused if h.kind == "downgrade" and h.chart in ONE_MINOR_AT_A_TIME}):
        why.append(f"{chart} supports moving one minor version at a time ({ONE_MINOR_AT_A_TIME[chart]})")
    raise ConfigError(f"{action} refused: it {'; '.join(_grouped(refused, first))}; {'; '.join(why)}; "
                      f"allowed: pass {' '.join(flags)} to do it on purpose; files unchanged")


def hazard_lines(found: list[Hazard], before: Mapping[str, Release], after: Mapping[str, Release], *,
                 first: str | None = None) -> list[str]:
    """What a promote or rollback removes or downgrades (allowed on purpose), and the minor-version notes."""
    return [f"allowed on purpose: it {phrase}" for phrase in _grouped(found, first)] + minor_jumps(before, after)


def follower_lines(before: Mapping[str, Release], after: Mapping[str, Release], target: str) -> list[str]:
    """The changes of every other environment that moves with ``target`` (it follows it)."""
    lines: list[str] = []
    for environment, old in before.items():
        new = after.get(environment)
        if environment == target or new is None:
            continue
        changes = changes_between(old.components, new.components)
        if changes:
            lines.append(f"{environment} follows {new.follows} and changes with it:")
            lines += [f"  {c.describe()}" for c in changes]
    return lines


def commit(loader: Loader, path: Path, text: str, *, action: str, check_locks: bool = True,
           allow: Allow | None = None, first: str | None = None) -> Loader:
    """Validate ``text`` as the new content of ``path`` (with every release resolved again), hold the locks,
    then write it atomically. Returns the loader that sees the new content. ``allow``: also refuse removals and
    platform-chart downgrades in any environment (followers included) that ``allow`` does not allow (None:
    no such check)."""
    before = loader.releases()
    after_loader = Loader(loader.directory, {path: text})
    try:
        after = after_loader.releases()
    except ConfigError as error:
        raise ConfigError(f"{action} refused, the result would not load: {error}; files unchanged") from None
    if check_locks:
        for environment, release in before.items():
            if environment in after:
                refuse_locked(release, after[environment], action)
    if allow is not None:
        refuse_hazards(hazards(before, after), action, allow, first=first)
    write_atomic(path, text)
    return after_loader


def entry_value(pin: Pin) -> Any:
    """A release-file entry for ``pin``: the bare version, or {version, image_tag}."""
    version, image_tag = pin
    if image_tag is None:
        return version
    value = CommentedMap()
    value["version"] = version
    value["image_tag"] = image_tag
    return value


def set_entry(components: CommentedMap, name: str, pin: Pin, position: int | None = None) -> None:
    """Set ``components[name]`` to ``pin``, editing an existing mapping in place so its comments stay."""
    current = components.get(name)
    if name in components and isinstance(current, CommentedMap):
        current["version"] = pin[0]
        if pin[1] is None:
            current.pop("image_tag", None)
        else:
            current["image_tag"] = pin[1]
    elif name in components:
        components[name] = entry_value(pin)
    elif position is not None:
        components.insert(position, name, entry_value(pin))
    else:
        components[name] = entry_value(pin)


def _registry_kind(environment: str) -> str:
    from infra.registry import load_registry

    return load_registry().get(environment).kind


def _own_list(loader: Loader, environment: str, command: str) -> None:
    """Refuse ``command`` on an environment whose release file follows another."""
    file = loader.file(environment)
    if file.follows is not None:
        how = (
            "bump the catalog (infra versions bump) or pin it in its release file"
            if file.follows == FOLLOWS_CATALOG
            else f"promote into {file.follows}, or pin versions in {file.source}"
        )
        raise ConfigError(
            f"{file.source}: {command} works on an environment that lists its own versions; "
            f"{environment} follows {file.follows}: {how}"
        )


# --- bump ------------------------------------------------------------------------------------------------


def bump(
    component: str,
    version: str,
    *,
    image_tag: str | None = None,
    allow_downgrade: bool = False,
    directory: Path | None = None,
) -> list[str]:
    """Record ``version`` (and image tag) as the catalog's latest for ``component``. A version older than the
    catalog's is not recorded (a warning line, success) unless ``allow_downgrade``."""
    loader = Loader(directory)
    loader.releases()
    catalog = loader.catalog
    current = catalog.component(component, where=f"bump {component}")
    check_version(version, f"bump {component}: version")
    if image_tag is not None:
        check_image_tag(image_tag, f"bump {component}: --image-tag")
    elif current.kind in OWN_KINDS:
        image_tag = version  # the service pipelines tag chart and image alike
    if current.version.startswith("v") != version.startswith("v"):
        style = "with" if current.version.startswith("v") else "without"
        raise ConfigError(
            f"bump {component}: version = {version!r}; allowed: a version written {style} a leading "
            f"'v', like the catalog's {current.version} (Helm matches chart versions exactly)"
        )
    if version_key(version) < version_key(current.version) and not allow_downgrade:
        # Builds finish out of order: the older one's bump must not fail its pipeline, nor move the catalog back.
        return [
            f"{WARNING}bump {component}: {version} is older than the catalog's {current.version} (a newer build "
            f"was recorded first); catalog unchanged (pass --allow-downgrade to record an older version on "
            "purpose)"
        ]
    before, after = (current.version, current.image_tag), (version, image_tag)
    if before == after:
        return [f"catalog: {component} is already at {describe_pin(after)}; nothing to do"]
    _refuse_below_pins(loader, component, version)
    path = catalog_path(loader.directory)
    document = loader.document(path)
    body = document["components"][component]
    body["version"] = version
    notes: list[str] = []
    if image_tag is None:
        if body.pop("image_tag", None) is not None:
            notes.append(
                f"note: dropped the image_tag override {current.image_tag}; {component} now runs its "
                "chart's appVersion (pass --image-tag to set one)"
            )
    elif "image_tag" in body:
        body["image_tag"] = image_tag
    else:
        body.insert(list(body).index("version") + 1, "image_tag", image_tag)
    commit(loader, path, render(document), action=f"bump {component}")
    followers = [
        name
        for name, release in loader.releases().items()
        if release.follows == FOLLOWS_CATALOG
        and component in release.components
        and release.components[component].source == FOLLOWS_CATALOG
    ]
    lines = [f"catalog: {component} {describe_pin(before)} → {describe_pin(after)} ({display(path)})", *notes]
    if followers:
        lines.append(f"follows the catalog, gets it on its next deployment: {', '.join(followers)}")
    lines.append("staging takes it with: infra versions release staging")
    return lines


def _refuse_below_pins(loader: Loader, component: str, version: str) -> None:
    """The catalog is the list of versions that exist (docs/versions.md): lowering it below a version a release
    file pins would say that pin does not exist. Refused, naming the pins and how to hold dev back instead."""
    pins = [
        f"{loader.file(name).source} pins {entry.version}"
        for name in loader.environments()
        if (entry := loader.file(name).entries.get(component)) is not None
        and version_key(entry.version) > version_key(version)
    ]
    if pins:
        raise ConfigError(
            f"bump {component} {version} refused: {'; '.join(pins)}, and the catalog is the list of versions "
            f"that exist (its version is the newest); to hold an environment that follows the catalog back, pin "
            f"{component} at {version} in its release file instead"
        )


# --- release staging ---------------------------------------------------------------------------------------


def release(environment: str, *, directory: Path | None = None) -> list[str]:
    """Set every unlocked component of a staging environment to the catalog's latest; locked ones stay."""
    loader = Loader(directory)
    loader.releases()
    kind = _registry_kind(environment)
    if kind != "staging":
        how = {
            "dev": "it follows the catalog: infra versions bump",
            "production": f"it takes what QA approved: infra versions promote staging {environment}",
        }
        raise ConfigError(
            f"release resolves staging environments only; {environment!r} is a {kind} environment"
            f"{': ' + how[kind] if kind in how else ''}"
        )
    _own_list(loader, environment, "release")
    file = loader.file(environment)
    catalog = loader.catalog
    path = loader.release_path(environment)
    document = loader.document(path)
    components = document["components"]
    kept: list[str] = []
    for name in list(components):
        latest = (catalog.components[name].version, catalog.components[name].image_tag)
        current = file.entries[name]
        assert current is not None
        if name in file.locked:
            if current.pin != latest:
                kept.append(
                    f"  {name}: kept at {describe_pin(current.pin)} (locked; catalog has "
                    f"{describe_pin(latest)}; lift with infra versions unlock {name} --env {environment})"
                )
            continue
        if current.pin != latest:
            set_entry(components, name, latest)
    text = render(document)
    before = loader.release(environment)
    if text == loader.text(path):
        return [f"{environment}: already at the catalog's latest for every unlocked component", *kept]
    after = commit(loader, path, text, action=f"release {environment}").release(environment)
    changes = changes_between(before.components, after.components)
    return [
        f"{environment} ← catalog ({display(path)}):",
        *(c.describe() for c in changes),
        *kept,
        f"review and commit {display(path)}; the {environment} pipeline (manual) deploys it",
    ]


# --- lock / unlock -----------------------------------------------------------------------------------------


def lock(component: str, environment: str, *, directory: Path | None = None) -> list[str]:
    loader = Loader(directory)
    loader.releases()
    _own_list(loader, environment, "lock")
    file = loader.file(environment)
    loader.catalog.component(component, where=f"lock {component}")
    if component not in file.entries:
        raise ConfigError(
            f"{file.source}: cannot lock {component!r}: {environment} does not run it; allowed: "
            f"{', '.join(file.entries)}"
        )
    pin = loader.release(environment).components[component].pin
    if component in file.locked:
        return [f"{environment}: {component} is already locked at {describe_pin(pin)}; nothing to do"]
    path = loader.release_path(environment)
    document = loader.document(path)
    locked = document.get("locked")
    if locked is None:
        locked = CommentedSeq()
        document["locked"] = locked
    locked.append(component)
    commit(loader, path, render(document), action=f"lock {component}")
    return [
        f"{environment}: locked {component} at {describe_pin(pin)} ({display(path)}); release, promote "
        f"and rollback now keep it; lift with: infra versions unlock {component} --env {environment}"
    ]


def unlock(component: str, environment: str, *, directory: Path | None = None) -> list[str]:
    loader = Loader(directory)
    loader.releases()
    _own_list(loader, environment, "unlock")
    file = loader.file(environment)
    loader.catalog.component(component, where=f"unlock {component}")
    if component not in file.locked:
        locked = ", ".join(file.locked) or "none"
        return [f"{environment}: {component} is not locked (locked: {locked}); nothing to do"]
    path = loader.release_path(environment)
    document = loader.document(path)
    sequence = document["locked"]
    del sequence[list(sequence).index(component)]
    commit(loader, path, render(document), action=f"unlock {component}", check_locks=False)
    return [
        f"{environment}: unlocked {component} ({display(path)}); the next `infra versions release "
        f"{environment}` moves it to the catalog's latest"
    ]


# --- promote -----------------------------------------------------------------------------------------------

# Where a promotion into an environment of this kind may come from: production gets what QA approved.
PROMOTE_SOURCES = {"production": ("staging", "production"), "enterprise": ("staging", "production")}


def promote(source: str, target: str, *, allow: Allow | None = None,
            directory: Path | None = None) -> list[str]:
    """Make ``target``'s release exactly ``source``'s resolved release; print the changes. A removal or a
    platform-chart downgrade, in ``target`` or an environment that follows it, is refused unless ``allow``
    allows it."""
    if source == target:
        raise ConfigError(
            f"promote: source and target are both {source!r}; allowed: two different environments"
        )
    loader = Loader(directory)
    loader.releases()
    origin = loader.release(source)
    _own_list(loader, target, "promote")
    source_kind, target_kind = _registry_kind(source), _registry_kind(target)
    allowed = PROMOTE_SOURCES.get(target_kind)
    if allowed is not None and source_kind not in allowed:
        raise ConfigError(
            f"promote {source} {target}: {target} is a {target_kind} environment and takes versions "
            f"from {' or '.join(allowed)} environments only; {source} is a {source_kind} environment"
        )
    path = loader.release_path(target)
    document = loader.document(path)
    components = document["components"]
    if components is None:
        components = document["components"] = CommentedMap()
    for name in list(components):
        if name not in origin.components:
            del components[name]
    for position, (name, component) in enumerate(origin.components.items()):
        set_entry(components, name, component.pin, position=min(position, len(components)))
    before = loader.release(target)
    # Locks first, with the lock's own message (the commit below would also refuse, less clearly).
    refuse_locked(
        before, dataclasses.replace(before, components=origin.components), f"promote {source} {target}"
    )
    text = render(document)
    changes = changes_between(before.components, origin.components)
    if not changes:
        return [f"{target} already runs exactly what {source} runs; nothing to do"]
    releases_before = loader.releases()
    releases_after = commit(loader, path, text, action=f"promote {source} {target}",
                            allow=allow or Allow(), first=target).releases()
    return [
        f"{target} ← {source} ({display(path)}):",
        *(c.describe() for c in changes),
        *follower_lines(releases_before, releases_after, target),
        *hazard_lines(hazards(releases_before, releases_after), releases_before, releases_after, first=target),
        f"review and commit {display(path)}; the {target} pipeline deploys it after its approval",
    ]


# --- patch ------------------------------------------------------------------------------------------------


def patch(
    component: str,
    version: str,
    environment: str,
    *,
    image_tag: str | None = None,
    directory: Path | None = None,
) -> list[str]:
    """Move one component of an environment that lists its own versions (staging, production) to a newer
    patch release of the minor it runs — the path for a security fix that cannot wait for the next
    promotion (``promote`` copies every component). Refused: another major or minor (that is a release:
    ``release``/``promote``), an older or equal version, a following environment, a locked component (lift
    the lock first; :func:`commit` refuses with the lock's message)."""
    loader = Loader(directory)
    loader.releases()
    _own_list(loader, environment, "patch")
    where = f"patch {component} --env {environment}"
    catalog_entry = loader.catalog.component(component, where=where)
    file = loader.file(environment)
    if component not in file.entries:
        raise ConfigError(
            f"{file.source}: cannot patch {component!r}: {environment} does not run it; allowed: "
            f"{', '.join(file.entries)}"
        )
    check_version(version, f"{where}: version")
    current = loader.release(environment).components[component]
    if current.version.startswith("v") != version.startswith("v"):
        style = "with" if current.version.startswith("v") else "without"
        raise ConfigError(
            f"{where}: version = {version!r}; allowed: a version written {style} a leading 'v', like "
            f"{environment}'s {current.version} (Helm matches chart versions exactly)"
        )
    old_key, new_key = version_key(current.version), version_key(version)
    if version == current.version and image_tag in (None, current.image_tag):
        return [f"{environment}: {component} is already at {describe_pin(current.pin)}; nothing to do"]
    if new_key[:2] != old_key[:2] or new_key <= old_key:
        major, minor = old_key[0], old_key[1]
        raise ConfigError(
            f"{where}: version {version} is not a newer patch release of {current.version}; allowed: "
            f"{'v' if version.startswith('v') else ''}{major}.{minor}.x above {current.version} (another "
            "minor or major goes through release and promote)"
        )
    if image_tag is not None:
        check_image_tag(image_tag, f"{where}: --image-tag")
    elif catalog_entry.kind in OWN_KINDS:
        image_tag = version  # the service pipelines tag chart and image alike
    path = loader.release_path(environment)
    document = loader.document(path)
    set_entry(document["components"], component, (version, image_tag))
    before = loader.release(environment)
    after = commit(loader, path, render(document), action=f"patch {component}").release(environment)
    changes = changes_between(before.components, after.components)
    notes = (
        [f"note: dropped the image_tag override {current.image_tag}; {component} now runs its chart's "
         "appVersion (pass --image-tag to set one)"]
        if image_tag is None and current.image_tag is not None
        else []
    )
    return [
        f"{environment}: patch release ({display(path)}):",
        *(c.describe() for c in changes),
        *notes,
        f"review and commit {display(path)}; the {environment} pipeline deploys it",
    ]


# --- init -------------------------------------------------------------------------------------------------


def init(environment: str, *, directory: Path | None = None) -> list[str]:
    """Create the release file of a new environment (defined in environments/ but without a release file),
    shaped by its kind: dev follows the catalog; staging lists the catalog's latest versions; production copies
    staging's resolved list; enterprise follows its ``release_from`` production environment; external follows
    staging without external-dns (it has no Azure DNS zone). Services are left out where ``deploy_product`` is
    off. Customer integrations are added by hand (a pin each)."""
    from infra.registry import load_registry

    registry = load_registry()
    settings = registry.get(environment)
    loader = Loader(directory)
    loader.releases()  # the existing files must be sound before a new one joins them
    path = release_path(loader.directory, environment)
    if path.exists():
        raise ConfigError(f"{display(path)} already exists; allowed: init for an environment without a release "
                          "file (change an existing one with promote, release, bump or by hand)")
    catalog = loader.catalog
    wanted = [name for name, c in catalog.components.items()
              if c.kind == "platform" or (c.kind == "service" and settings.deploy_product)]
    document = CommentedMap()
    kind = settings.kind
    if kind == "dev":
        document["follows"] = FOLLOWS_CATALOG
        document["components"] = CommentedMap((name, None) for name in wanted)
        header = "follows the catalog's latest versions (an empty entry follows; a version pins)"
    elif kind in ("staging", "production"):
        source = ({n: (c.version, c.image_tag) for n, c in catalog.components.items()} if kind == "staging"
                  else {n: c.pin for n, c in loader.release(_first_of_kind(registry, "staging")).components.items()})
        document["components"] = CommentedMap((name, entry_value(source[name])) for name in wanted if name in source)
        if kind == "staging":
            document["locked"] = CommentedSeq()
        header = ("exact versions; `infra versions release` resolves it, `lock` holds a component" if kind == "staging"
                  else "exact versions, promoted from staging with `infra versions promote`")
    else:
        follows = settings.release_from if kind == "enterprise" else _first_of_kind(registry, "staging")
        if follows is None:
            follows = _first_of_kind(registry, "production")
        document["follows"] = follows
        document["components"] = CommentedMap()
        excluded = [name for name, c in catalog.components.items()
                    if (c.kind == "service" and not settings.deploy_product)
                    or (name == "external-dns" and not settings.has_azure_cluster)]
        if excluded:
            document["exclude"] = CommentedSeq(excluded)
        header = f"runs what {follows} runs; a component listed under components pins it for {environment} only"
    document.yaml_set_start_comment(f"{environment} ({kind}): {header}.\nCreated by `infra versions init`.")
    text = render(document)
    after = Loader(loader.directory, {path: text})
    try:
        release = after.release(environment)
    except ConfigError as error:
        raise ConfigError(f"init {environment} refused, the result would not load: {error}; files unchanged") from None
    write_atomic(path, text)
    return [
        f"created {display(path)}:",
        *(f"+ {name} {describe_pin(c.pin)}" for name, c in release.components.items()),
        f"review and commit {display(path)}; add a pin for each customer integration the environment runs",
    ]


def _first_of_kind(registry: Any, kind: str) -> str:
    names = [e.name for e in registry.environments if e.kind == kind]
    if not names:
        raise ConfigError(f"init: no {kind} environment is defined to take versions from")
    return names[0]
