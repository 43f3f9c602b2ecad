"""Component versions in process: the rules, the committed files, resolution, the loader's errors.

GIVEN a versions directory (the committed one, the fixture one, or a modified copy of the fixture), WHEN it is
loaded, THEN the resolved releases are exact, or loading fails with one line naming the file and the entry.
Tests that expect particular versions or relations between particular files read tests/fixtures/versions (a
frozen copy), so a version bump in versions/ leaves them green; "the committed files" checks the live ones.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra.errors import ConfigError
from infra.registry import Registry
from infra.versions import check_registry, load_catalog, load_release, load_releases
from infra.versions.files import VERSIONS_DIR, parse_text, render, write_atomic
from infra.versions.model import OWN_KINDS, is_exact_version, version_key
from infra.versions.resolve import Loader
from tests.conftest import FIXTURE_VERSIONS

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the fixture versions directory; messages show it as versions/..."""
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "versions"
    shutil.copytree(FIXTURE_VERSIONS, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


# --- rules -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.2.3", "v1.19.1", "0.0.1", "1.2.3-rc.1", "1.2.3+build.5", "10.20.30"])
def test_exact_versions_are_accepted(version: str) -> None:
    assert is_exact_version(version)


@pytest.mark.parametrize(
    "version",
    [
        "latest",
        "1.2",
        "1",
        "^1.2.3",
        "~1.2.3",
        ">=1.2.3",
        "1.2.x",
        "1.2.*",
        "01.2.3",
        "1.2.3 ",
        "v",
        "",
        "1.2.3-",
        "V1.2.3",
    ],
)
def test_ranges_and_floating_versions_are_refused(version: str) -> None:
    assert not is_exact_version(version)


def test_version_order_is_semver_precedence() -> None:
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-beta",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.10.0",
        "2.0.0",
    ]
    assert sorted(reversed(ordered), key=version_key) == ordered
    assert version_key("v1.19.1") < version_key("v1.19.2")


# --- the committed files -----------------------------------------------------------------------------------


def test_committed_releases_agree_with_catalog_and_registry(registry: Registry) -> None:
    releases = load_releases(registry)
    assert list(releases) == sorted(e.name for e in registry.environments)
    assert registry.bootstrap.name not in releases


def test_every_committed_version_is_exact_and_own_components_name_their_image(registry: Registry) -> None:
    for release in load_releases(registry).values():
        for component in release.components.values():
            assert is_exact_version(component.version), (release.environment, component.name)
            if component.kind in OWN_KINDS:
                assert component.image_tag and component.image_tag != "latest", (
                    release.environment,
                    component,
                )


def test_dev_runs_the_catalog_latest_of_each_listed_component() -> None:
    catalog = load_catalog(FIXTURE_VERSIONS)
    dev = load_release("dev", FIXTURE_VERSIONS)
    assert dev.follows == "catalog"
    assert dev.as_mapping() == {name: catalog.components[name].version for name in dev.components}
    assert all(c.source == "catalog" for c in dev.components.values())
    assert "sso-bridge" not in dev.components


def test_enterprise_contoso_runs_production_weu_plus_its_integration() -> None:
    production = load_release("production-weu", FIXTURE_VERSIONS)
    contoso = load_release("enterprise-contoso", FIXTURE_VERSIONS)
    assert contoso.follows == "production-weu"
    assert contoso.as_mapping() == {**production.as_mapping(), "sso-bridge": "0.9.3"}
    assert contoso.components["sso-bridge"].kind == "integration"
    assert contoso.components["sso-bridge"].source == "enterprise-contoso"
    assert contoso.components["api"].source == "production-weu"


def test_onprem_runs_staging_without_external_dns() -> None:
    staging, onprem = load_release("staging", FIXTURE_VERSIONS), load_release("onprem", FIXTURE_VERSIONS)
    expected = {k: v for k, v in staging.as_mapping().items() if k != "external-dns"}
    assert onprem.as_mapping() == expected
    assert not any(c.locked for c in onprem.components.values())  # locks belong to staging's file


def test_production_regions_run_the_same_release() -> None:
    weu, neu = load_release("production-weu", FIXTURE_VERSIONS), load_release("production-neu", FIXTURE_VERSIONS)
    assert [c.pin for c in weu.components.values()] == [c.pin for c in neu.components.values()]


def test_staging_locks_cert_manager() -> None:
    staging = load_release("staging", FIXTURE_VERSIONS)
    assert staging.locked == frozenset({"cert-manager"})
    assert staging.components["cert-manager"].locked
    assert not staging.components["api"].locked


def test_as_mapping_keeps_release_file_order_and_image_tags_only_where_set() -> None:
    staging = load_release("staging", FIXTURE_VERSIONS)
    assert list(staging.as_mapping()) == [
        "ingress-nginx",
        "cert-manager",
        "cluster-issuers",
        "external-dns",
        "api",
        "web",
        "worker",
    ]
    assert staging.image_tags() == {"api": "1.42.0", "web": "2.7.0", "worker": "1.18.0"}


@pytest.mark.parametrize("path", sorted(VERSIONS_DIR.rglob("*.yaml")), ids=lambda p: p.name)
def test_committed_files_round_trip_byte_for_byte(path: Path) -> None:
    text = path.read_text()
    assert render(parse_text(text, path.name)) == text


def test_repository_for_fills_the_registry_placeholder_only() -> None:
    staging = load_release("staging", FIXTURE_VERSIONS)
    api = staging.components["api"]
    assert api.uses_registry
    assert api.repository_for("crnwtdev1a2b.azurecr.io") == "oci://crnwtdev1a2b.azurecr.io/helm"
    with pytest.raises(ValueError, match="needs registry"):
        api.repository_for(None)
    with pytest.raises(ValueError, match="needs registry"):
        api.repository_for("https://not-a-host")
    nginx = staging.components["ingress-nginx"]
    assert nginx.repository_for(None) == "https://kubernetes.github.io/ingress-nginx"


def test_load_release_is_fast_and_imports_no_provider_package() -> None:
    code = (
        "import sys, time; t = time.perf_counter(); from infra.versions import load_release; "
        "r = load_release('enterprise-contoso'); e = time.perf_counter() - t; "
        "bad = [m for m in sys.modules if m.startswith(('cdktf', 'constructs', 'jsii'))]; "
        "print(len(r.components), bad, e < 1.0)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    ).stdout.split()
    assert output == ["8", "[]", "True"]


# --- errors: one line naming the file and the entry ---------------------------------------------------------


def load_error(directory: Path, environment: str = "staging") -> str:
    with pytest.raises(ConfigError) as caught:
        Loader(directory).releases() if environment == "*" else load_release(environment, directory)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_unknown_component_in_a_release(versions: Path) -> None:
    edit(
        versions / "releases/staging.yaml",
        "  external-dns: 1.20.0\n",
        "  external-dns: 1.20.0\n  redis: 7.0.0\n",
    )
    assert load_error(versions).startswith(
        "versions/releases/staging.yaml:10: components.redis: unknown "
        "component 'redis': not in versions/catalog.yaml; allowed: ingress-nginx"
    )


@pytest.mark.parametrize("value", ["latest", "'>=1.20.0'", "1.20", "^1.20.0", "1.20.x"])
def test_malformed_version_in_a_release(versions: Path, value: str) -> None:
    edit(versions / "releases/staging.yaml", "external-dns: 1.20.0", f"external-dns: {value}")
    message = load_error(versions)
    assert message.startswith("versions/releases/staging.yaml:9: components.external-dns = ")
    assert "allowed: an exact semantic version" in message


def test_malformed_version_in_the_catalog(versions: Path) -> None:
    edit(versions / "catalog.yaml", "version: 1.18.0", "version: latest")
    assert load_error(versions, "dev").startswith(
        "versions/catalog.yaml:66: components.worker.version = 'latest'; allowed: an exact semantic version"
    )


def test_latest_image_tag_is_refused(versions: Path) -> None:
    edit(versions / "releases/staging.yaml", "image_tag: 2.7.0", "image_tag: latest")
    assert load_error(versions).startswith(
        "versions/releases/staging.yaml:15: components.web.image_tag = 'latest'; allowed: an image tag"
    )


def test_service_without_image_tag_is_refused(versions: Path) -> None:
    edit(
        versions / "releases/production-weu.yaml",
        "  api:\n    version: 1.41.2\n    image_tag: 1.41.2\n",
        "  api: 1.41.2\n",
    )
    assert "components.api.image_tag = None; allowed: an image tag: api is a service component" in load_error(
        versions, "production-weu"
    )


def test_duplicate_key_is_one_line(versions: Path) -> None:
    edit(
        versions / "releases/staging.yaml",
        "  external-dns: 1.20.0\n",
        "  external-dns: 1.20.0\n  api: 1.0.0\n",
    )
    assert load_error(versions) == (
        "versions/releases/staging.yaml:11: duplicate key 'api'; allowed: each key once per mapping"
    )


def test_duplicate_key_in_catalog(versions: Path) -> None:
    edit(versions / "catalog.yaml", "    chart: api\n", "    chart: api\n    chart: api2\n")
    message = load_error(versions, "dev")
    assert message.startswith("versions/catalog.yaml:") and "duplicate key 'chart'" in message


def test_unreadable_file(versions: Path) -> None:
    (versions / "releases/staging.yaml").write_bytes(b"components:\n  api: \xff\xfe\n")
    assert load_error(versions).startswith("versions/releases/staging.yaml: cannot read: not UTF-8 text")


def test_invalid_yaml(versions: Path) -> None:
    (versions / "releases/staging.yaml").write_text("components:\n  api: [1.0.0\n")
    assert load_error(versions).startswith("versions/releases/staging.yaml:")


def test_missing_catalog(versions: Path) -> None:
    (versions / "catalog.yaml").unlink()
    assert load_error(versions) == "versions/catalog.yaml: file not found"


def test_unknown_environment(versions: Path) -> None:
    assert load_error(versions, "qa").startswith(
        "unknown environment 'qa': no release file versions/releases/qa.yaml; known: dev, enterprise-contoso"
    )


def test_follow_cycle(versions: Path) -> None:
    (versions / "releases/onprem.yaml").write_text("follows: enterprise-contoso\ncomponents: {}\n")
    edit(versions / "releases/enterprise-contoso.yaml", "follows: production-weu", "follows: onprem")
    assert "makes a cycle (onprem → enterprise-contoso → onprem)" in load_error(versions, "onprem")


def test_follows_an_unknown_environment(versions: Path) -> None:
    edit(versions / "releases/enterprise-contoso.yaml", "follows: production-weu", "follows: production-xyz")
    assert "follows = 'production-xyz'; allowed: 'catalog' or an environment" in load_error(
        versions, "enterprise-contoso"
    )


def test_empty_entry_needs_follows(versions: Path) -> None:
    edit(versions / "releases/staging.yaml", "external-dns: 1.20.0", "external-dns:")
    assert "components.external-dns = None" in load_error(versions)


def test_empty_entry_for_a_component_the_followed_environment_lacks(versions: Path) -> None:
    edit(
        versions / "releases/enterprise-contoso.yaml",
        "  sso-bridge:\n    version: 0.9.3\n    image_tag: 0.9.3\n",
        "  sso-bridge:\n",
    )
    assert "components.sso-bridge: has no version and production-weu does not run it" in load_error(
        versions, "enterprise-contoso"
    )


def test_lock_of_a_component_not_listed(versions: Path) -> None:
    edit(versions / "releases/staging.yaml", "  - cert-manager", "  - sso-bridge")
    assert "locked component 'sso-bridge' is not under components" in load_error(versions)


def test_locks_need_an_own_list(versions: Path) -> None:
    (versions / "releases/onprem.yaml").write_text("follows: staging\ncomponents: {}\nlocked: [api]\n")
    assert "locked is allowed only in an environment that lists its own versions" in load_error(
        versions, "onprem"
    )


def test_unknown_key(versions: Path) -> None:
    edit(versions / "releases/staging.yaml", "locked:", "lokced:")
    assert "key = 'lokced'; allowed: follows, components, exclude, locked" in load_error(versions)


def test_catalog_component_missing_fields(versions: Path) -> None:
    edit(versions / "catalog.yaml", "    namespace: product\n    version: 2.7.1\n", "    version: 2.7.1\n")
    assert "components.web: missing namespace" in load_error(versions, "dev")


def test_catalog_bad_repository(versions: Path) -> None:
    edit(versions / "catalog.yaml", "https://charts.jetstack.io", "http://charts.jetstack.io")
    assert "components.cert-manager.repository = 'http://charts.jetstack.io'" in load_error(versions, "dev")


def test_registry_cross_checks(versions: Path, fixture_registry: Registry) -> None:
    (versions / "releases/onprem.yaml").unlink()
    with pytest.raises(
        ConfigError, match=r"environment 'onprem' has no release file versions/releases/onprem\.yaml"
    ):
        check_registry(Loader(versions).releases(), fixture_registry, versions)


def test_integrations_only_in_enterprise_environments(versions: Path, fixture_registry: Registry) -> None:
    (versions / "releases/onprem.yaml").write_text(
        "follows: staging\ncomponents:\n  sso-bridge: {version: 0.9.3, image_tag: 0.9.3}\n"
    )
    with pytest.raises(ConfigError, match="runs integration 'sso-bridge' in external environment 'onprem'"):
        check_registry(Loader(versions).releases(), fixture_registry, versions)


# --- atomic writes -----------------------------------------------------------------------------------------


def test_failed_write_leaves_the_file_and_no_temporary(
    versions: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = versions / "catalog.yaml"
    before = path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(
        ConfigError, match=r"catalog\.yaml: cannot write: No space left on device; the file is unchanged"
    ):
        write_atomic(path, "components: {}\n")
    assert path.read_bytes() == before
    assert sorted(p.name for p in versions.iterdir()) == ["catalog.yaml", "releases"]


def test_exclude_names_a_catalog_component(versions: Path) -> None:
    edit(versions / "releases/onprem.yaml", "  - external-dns", "  - external-dsn")
    assert load_error(versions, "onprem").startswith(
        "versions/releases/onprem.yaml:5: exclude: unknown component 'external-dsn'"
    )


def test_exclude_needs_follows_of_an_environment(versions: Path) -> None:
    edit(versions / "releases/dev.yaml", "follows: catalog\n", "follows: catalog\nexclude: [api]\n")
    assert "exclude is allowed only with `follows: <environment>`" in load_error(versions, "dev")
