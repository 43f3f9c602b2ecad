"""Every third-party ``helm_release``'s values, checked against the chart's own upstream files.

Helm silently ignores a value key the chart does not read (a misspelt ``resource:`` instead of ``resources:``
installs fine and does nothing), and only a chart's ``values.schema.json`` — where it ships one — rejects a
wrong type. So for each release of a third-party chart in every synthesized stack (the ``synthesized`` session
fixture), this test

1. merges what the release hands to Helm as Helm does: the ``values`` documents in order (later ones win, maps
   merge key by key, anything else replaces), then every ``set`` / ``set_list`` / ``set_sensitive`` entry
   (``a.b.c``, ``a\\.b`` for a key with a dot, ``list[0].key``), then the chart's own defaults underneath
   (``null`` removes a default) — Helm's coalescing, https://helm.sh/docs/chart_template_guide/values_files/;
2. validates the merged values against ``<chart>/<version>/values.schema.json`` when the chart ships one
   (cert-manager, external-dns), as ``helm install`` would;
3. checks that every key path the release sets exists in that version's ``values.yaml`` (or is declared by the
   schema). Below a free-form map the chart passes through verbatim (an empty ``{}``/``[]`` default such as
   ``podAnnotations: {}``, ``extraArgs``, or one of :data:`FREE_FORM_KEYS`, Kubernetes API objects the templates
   render with ``toYaml``) any key is accepted.

The reference files are upstream copies, byte for byte, in ``../shared/charts/<chart>/<version>/`` (its README
names the repository, tag and commit of each); ``CHART_REFERENCES`` points elsewhere. A pinned version without
a reference fails with a line naming the chart and version — a version bump must bring its reference.

Which releases are third-party is decided by the version catalog, not guessed: a release is checked when its
repository and chart are those of a catalog component whose repository is not the environment's own registry
(``versions/catalog.yaml``: ingress-nginx, cert-manager, cluster-issuers (bedag ``raw``), external-dns). The
company's own charts (``oci://{registry}/helm``: api, web, worker, sso-bridge) have no upstream reference and
are counted, not checked; a release matching neither fails.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from infra.versions import REGISTRY_PLACEHOLDER, load_catalog
from tests.conftest import REPO_ROOT, stack_names

REFERENCES_VARIABLE = "CHART_REFERENCES"
DEFAULT_REFERENCES = REPO_ROOT.parent / "shared" / "charts"
# Keys whose value is a Kubernetes API object (or a list of them) that the charts render verbatim with
# `toYaml`, so their sub-keys are the API's, not the chart's: e.g. ingress-nginx's default
# `controller.resources` lists only `requests` (its `limits` example is a comment), and `nodeSelector`
# defaults to `kubernetes.io/os: linux`.
FREE_FORM_KEYS = frozenset(
    {"resources", "nodeSelector", "affinity", "securityContext", "podSecurityContext", "containerSecurityContext"}
)
ENVIRONMENTS = [name for name in stack_names() if name != "bootstrap"]


def references_dir() -> Path:
    configured = os.environ.get(REFERENCES_VARIABLE)
    folder = Path(configured) if configured else DEFAULT_REFERENCES
    if not (folder / "README.md").is_file():
        pytest.fail(
            f"chart references not found at {folder}: set {REFERENCES_VARIABLE} to the folder of upstream "
            "<chart>/<version>/values.yaml files (default ../shared/charts)",
            pytrace=False,
        )
    return folder


# --- Helm's merge --------------------------------------------------------------------------------------------


def merge_values(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base`` as Helm merges values files: maps merge recursively, anything else
    (lists, scalars, null) replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = value
    return merged


def coalesce(defaults: Any, values: Any) -> Any:
    """The chart's ``defaults`` under the user's ``values`` (Helm's coalescing): user keys win, maps merge,
    a user ``null`` deletes the default."""
    if not isinstance(values, Mapping) or not isinstance(defaults, Mapping):
        return values
    merged = {key: value for key, value in defaults.items()}
    for key, value in values.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = coalesce(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_set_path(name: str) -> list[str | int]:
    """``a.b\\.c[0].d`` → ``["a", "b.c", 0, "d"]`` (Helm strvals: ``\\`` escapes, ``[n]`` indexes a list)."""
    parts: list[str | int] = []
    current = ""
    i = 0
    while i < len(name):
        char = name[i]
        if char == "\\" and i + 1 < len(name):
            current += name[i + 1]
            i += 2
            continue
        if char == ".":
            if current:
                parts.append(current)
            current = ""
        elif char == "[":
            end = name.index("]", i)
            if current:
                parts.append(current)
            current = ""
            parts.append(int(name[i + 1 : end]))
            i = end
        else:
            current += char
        i += 1
    if current:
        parts.append(current)
    return parts


def typed(value: str, kind: str | None) -> Any:
    """A ``set`` value as Helm types it: ``type = "string"`` keeps the text; otherwise (``auto``) ``true``,
    ``false``, ``null`` and integers become those types (strvals.typedVal)."""
    if kind == "string":
        return value
    if value in ("true", "false"):
        return value == "true"
    if value == "null":
        return None
    if re.fullmatch(r"-?(0|[1-9][0-9]*)", value):
        return int(value)
    return value


def apply_set(values: dict[str, Any], path: list[str | int], value: Any) -> None:
    node: Any = values
    for position, part in enumerate(path):
        last = position == len(path) - 1
        following: Any = [] if not last and isinstance(path[position + 1], int) else {}
        if isinstance(part, int):
            while len(node) <= part:
                node.append(None)
            if last:
                node[part] = value
            else:
                if not isinstance(node[part], dict | list):
                    node[part] = following
                node = node[part]
        elif last:
            node[part] = value
        else:
            if not isinstance(node.get(part), dict | list):
                node[part] = following
            node = node[part]


def release_values(release: Mapping[str, Any]) -> dict[str, Any]:
    """Everything a ``helm_release`` hands to Helm, merged: values documents, then set entries."""
    yaml = YAML(typ="safe", pure=True)
    merged: dict[str, Any] = {}
    for document in release.get("values") or []:
        loaded = yaml.load(document) or {}
        assert isinstance(loaded, dict), f"release {release['name']}: a values document is not a mapping"
        merged = merge_values(merged, loaded)
    for entry in release.get("set") or []:
        apply_set(merged, parse_set_path(entry["name"]), typed(str(entry["value"]), entry.get("type")))
    for entry in release.get("set_list") or []:
        apply_set(merged, parse_set_path(entry["name"]), list(entry["value"]))
    for entry in release.get("set_sensitive") or []:
        apply_set(merged, parse_set_path(entry["name"]), typed(str(entry["value"]), entry.get("type")))
    return merged


# --- the checks ----------------------------------------------------------------------------------------------


@dataclass
class Reference:
    """One chart version's upstream files."""

    chart: str
    version: str
    defaults: dict[str, Any]
    schema: dict[str, Any] | None

    @classmethod
    def load(cls, root: Path, chart: str, version: str) -> Reference | None:
        folder = root / chart / version
        if not (folder / "values.yaml").is_file():
            return None
        defaults = YAML(typ="safe", pure=True).load((folder / "values.yaml").read_text()) or {}
        schema_file = folder / "values.schema.json"
        schema = json.loads(schema_file.read_text()) if schema_file.is_file() else None
        return cls(chart=chart, version=version, defaults=defaults, schema=schema)

    def _resolve(self, node: Any) -> Any:
        assert self.schema is not None
        while isinstance(node, Mapping) and "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/"), ref
            target: Any = self.schema
            for part in ref[2:].split("/"):
                target = target[part]
            node = target
        return node

    def schema_knows(self, path: tuple[str, ...]) -> bool:
        """True when the schema declares ``path`` or leaves the object at one of its prefixes free-form (no
        ``properties``, or an ``additionalProperties`` schema for map entries)."""
        if self.schema is None:
            return False
        node = self._resolve(self.schema)
        for part in path:
            if not isinstance(node, Mapping):
                return False
            properties = node.get("properties")
            if isinstance(properties, Mapping) and part in properties:
                node = self._resolve(properties[part])
                continue
            additional = node.get("additionalProperties")
            if properties is None and additional is not False:
                return True
            if isinstance(additional, Mapping):
                node = self._resolve(additional)
                continue
            return False
        return True

    def values_yaml_knows(self, path: tuple[str, ...]) -> bool:
        node: Any = self.defaults
        for part in path:
            if not isinstance(node, Mapping):
                return node is None  # a null default (e.g. `podSecurityContext:`) takes any object
            if part not in node:
                return len(node) == 0  # an empty map `{}` is free-form
            if part in FREE_FORM_KEYS:
                return True
            node = node[part]
        return True

    def schema_errors(self, values: Mapping[str, Any]) -> list[str]:
        if self.schema is None:
            return []
        validator_class = jsonschema.validators.validator_for(self.schema)
        validator = validator_class(self.schema)
        merged = coalesce(self.defaults, values)
        return [
            f"values.schema.json: {'.'.join(str(p) for p in error.absolute_path) or '(top level)'}: "
            f"{error.message}"
            for error in sorted(validator.iter_errors(merged), key=lambda e: list(map(str, e.absolute_path)))
        ]


def key_paths(values: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every key path set, down to the leaves (a list counts as a leaf: Helm replaces lists whole)."""
    if isinstance(values, Mapping) and values:
        for key, value in values.items():
            yield from key_paths(value, (*prefix, str(key)))
    elif prefix:
        yield prefix


@dataclass
class Checked:
    """The outcome for one stack."""

    releases: int = 0
    keys: int = 0
    own_charts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def third_party_sources() -> dict[tuple[str, str], str]:
    """(repository, chart) → component name of every catalog component that is not one of the company's
    own charts (those come from the environment's registry, ``oci://{registry}/helm``)."""
    catalog = load_catalog()
    return {
        (c.repository, c.chart): c.name
        for c in catalog.components.values()
        if REGISTRY_PLACEHOLDER not in c.repository
    }


def own_charts() -> set[str]:
    return {c.chart for c in load_catalog().components.values() if REGISTRY_PLACEHOLDER in c.repository}


def check_release(release: Mapping[str, Any], reference: Reference) -> tuple[int, list[str]]:
    """(number of key paths checked, problems) for one release against its chart version's reference."""
    where = f"{release['name']} ({reference.chart} {reference.version})"
    values = release_values(release)
    problems = [f"{where}: {message}" for message in reference.schema_errors(values)]
    paths = sorted(set(key_paths(values)))
    for path in paths:
        if not (reference.values_yaml_knows(path) or reference.schema_knows(path)):
            problems.append(
                f"{where}: key {'.'.join(path)} is not in the chart's values.yaml (Helm would ignore it)"
            )
    return len(paths), problems


def check_stack(stack: Mapping[str, Any], root: Path) -> Checked:
    sources = third_party_sources()
    own = own_charts()
    result = Checked()
    for address, release in sorted(stack.get("resource", {}).get("helm_release", {}).items()):
        source = (release.get("repository"), release["chart"])
        if source not in sources:
            if release["chart"] in own and str(release.get("repository", "")).startswith("oci://"):
                result.own_charts.append(release["name"])
                continue
            result.errors.append(
                f"helm_release.{address}: chart {release['chart']!r} from {release.get('repository')!r} is "
                "neither a third-party catalog component nor one of the company's own charts"
            )
            continue
        reference = Reference.load(root, release["chart"], release["version"])
        if reference is None:
            result.errors.append(
                f"no upstream reference for chart {release['chart']} version {release['version']} (release "
                f"{release['name']}): add {release['chart']}/{release['version']}/values.yaml (and "
                f"values.schema.json if the chart ships one) to {root}"
            )
            continue
        keys, problems = check_release(release, reference)
        result.releases += 1
        result.keys += keys
        result.errors.extend(problems)
    return result


# --- tests -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_third_party_chart_values_exist_in_the_pinned_chart(synthesized, environment):
    checked = check_stack(synthesized.stacks[environment], references_dir())
    assert not checked.errors, "\n".join(checked.errors)
    third_party = {
        body["name"]
        for body in synthesized.resources(environment, "helm_release").values()
        if body["name"] not in checked.own_charts
    }
    assert checked.releases == len(third_party) >= 2  # ingress-nginx and cert-manager at least
    assert checked.keys > 0


def test_the_company_charts_are_counted_not_checked(synthesized):
    checked = check_stack(synthesized.stacks["enterprise-contoso"], references_dir())
    assert sorted(checked.own_charts) == ["api", "sso-bridge", "web", "worker"]


# --- the check can fail ---------------------------------------------------------------------------------------
# On the frozen fixture app (tests/fixtures), so the messages' pinned versions cannot move with a version bump.


def _release(synthesized, environment: str, name: str) -> dict[str, Any]:
    (release,) = [b for b in synthesized.resources(environment, "helm_release").values() if b["name"] == name]
    return json.loads(json.dumps(release))


def _doctored(synthesized, environment: str, name: str, **entries: Any) -> dict[str, Any]:
    """A copy of the stack whose release ``name`` gets one more values document."""
    stack = json.loads(json.dumps(synthesized.stacks[environment]))
    for body in stack["resource"]["helm_release"].values():
        if body["name"] == name:
            body["values"] = [*(body.get("values") or []), json.dumps(entries)]
    return stack


def test_a_misspelt_key_fails(fixture_synthesized):
    stack = _doctored(fixture_synthesized, "dev", "ingress-nginx", controller={"replicaCuont": 2})
    errors = check_stack(stack, references_dir()).errors
    assert errors == [
        "ingress-nginx (ingress-nginx 4.14.5): key controller.replicaCuont is not in the chart's values.yaml "
        "(Helm would ignore it)"
    ]


def test_a_misspelt_key_under_a_schema_that_allows_unknown_keys_fails(fixture_synthesized):
    # external-dns's schema allows unknown top-level keys; values.yaml does not know this one.
    stack = _doctored(fixture_synthesized, "dev", "external-dns", txtOwnerID="dev")
    errors = check_stack(stack, references_dir()).errors
    assert errors == [
        "external-dns (external-dns 1.20.0): key txtOwnerID is not in the chart's values.yaml "
        "(Helm would ignore it)"
    ]


def test_a_schema_invalid_value_fails(fixture_synthesized):
    stack = _doctored(fixture_synthesized, "dev", "cert-manager", replicaCount="two")
    errors = check_stack(stack, references_dir()).errors
    assert errors == [
        "cert-manager (cert-manager v1.19.6): values.schema.json: replicaCount: 'two' is not of type 'number'"
    ]


def test_an_unknown_top_level_key_fails_the_cert_manager_schema(fixture_synthesized):
    stack = _doctored(fixture_synthesized, "dev", "cert-manager", installCRD=True)
    errors = check_stack(stack, references_dir()).errors
    assert any("values.schema.json: (top level): Additional properties are not allowed ('installCRD'" in e
               for e in errors), errors
    assert any("key installCRD is not in the chart's values.yaml" in e for e in errors), errors


def test_a_free_form_map_takes_any_key(fixture_synthesized):
    stack = _doctored(
        fixture_synthesized, "dev", "ingress-nginx",
        controller={"podAnnotations": {"example.com/anything": "x"}, "nodeSelector": {"pool": "user"},
                    "resources": {"limits": {"memory": "1Gi"}}, "extraArgs": {"v": "2"}},
    )
    assert check_stack(stack, references_dir()).errors == []


def test_a_version_without_reference_fails_naming_chart_and_version(fixture_synthesized, tmp_path):
    stack = json.loads(json.dumps(fixture_synthesized.stacks["dev"]))
    for body in stack["resource"]["helm_release"].values():
        if body["name"] == "ingress-nginx":
            body["version"] = "4.14.99"
    errors = check_stack(stack, references_dir()).errors
    assert len(errors) == 1
    assert errors[0].startswith("no upstream reference for chart ingress-nginx version 4.14.99 (release ingress-nginx)")


def test_a_release_of_unknown_origin_fails(fixture_synthesized):
    stack = json.loads(json.dumps(fixture_synthesized.stacks["dev"]))
    release = next(iter(stack["resource"]["helm_release"].values()))
    release["repository"] = "https://charts.example.com"
    errors = check_stack(stack, references_dir()).errors
    assert len(errors) == 1 and "is neither a third-party catalog component" in errors[0]


def test_missing_references_fail_with_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv(REFERENCES_VARIABLE, str(tmp_path / "nowhere"))
    expected = rf"chart references not found at .*nowhere: set {REFERENCES_VARIABLE}"
    with pytest.raises(pytest.fail.Exception, match=expected):
        references_dir()


# --- Helm's merge rules, exactly -----------------------------------------------------------------------------


def test_set_entries_follow_helm_strvals():
    release = {
        "name": "x",
        "values": [json.dumps({"a": {"b": 1, "keep": True}, "list": [1, 2]}), json.dumps({"a": {"b": 2}})],
        "set": [
            {"name": "a.c", "value": "true"},
            {"name": "annotations.example\\.com/key", "value": "v"},
            {"name": "items[1].name", "value": "second"},
            {"name": "port", "value": "8080", "type": "string"},
        ],
        "set_list": [{"name": "list", "value": ["x"]}],
        "set_sensitive": [{"name": "secret.value", "value": "42"}],
    }
    assert release_values(release) == {
        "a": {"b": 2, "keep": True, "c": True},
        "annotations": {"example.com/key": "v"},
        "items": [None, {"name": "second"}],
        "port": "8080",
        "list": ["x"],
        "secret": {"value": 42},
    }


def test_coalesce_lets_null_remove_a_default():
    assert coalesce({"a": {"b": 1, "c": 2}, "d": 3}, {"a": {"b": None}, "d": [1]}) == {"a": {"c": 2}, "d": [1]}
