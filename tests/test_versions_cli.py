"""`infra versions ...` through the installed console script (.venv/bin/infra), on a copy of versions/.

GIVEN a copy of the committed version files (in a temporary git repository for rollback), WHEN a command runs,
THEN it prints what it did and changes exactly one file keeping its comments, or it fails with one line, a
non-zero exit, no traceback, and every file byte-for-byte unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.versions.files import VERSIONS_DIR

INFRA = Path(sys.executable).with_name("infra")


@dataclass
class Run:
    code: int
    out: str
    err: str


@dataclass
class Workspace:
    root: Path

    @property
    def versions(self) -> Path:
        return self.root / "versions"

    def file(self, relative: str) -> Path:
        return self.versions / relative

    def infra(self, *args: str) -> Run:
        env = {**os.environ, "INFRA_VERSIONS_DIR": str(self.versions)}
        result = subprocess.run(
            [str(INFRA), "versions", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.root,
            check=False,
        )
        return Run(result.returncode, result.stdout, result.stderr)

    def json(self, *args: str) -> dict:
        run = self.infra(*args, "--json")
        assert run.code == 0, run.err
        return json.loads(run.out)

    def snapshot(self) -> dict[str, bytes]:
        return {
            str(p.relative_to(self.root)): p.read_bytes()
            for p in sorted(self.versions.rglob("*"))
            if p.is_file()
        }

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=Test", "-c", "user.email=test@example.invalid", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def commit(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    shutil.copytree(VERSIONS_DIR, tmp_path / "versions")
    return Workspace(tmp_path)


def refused(ws: Workspace, *args: str, contains: str) -> str:
    """Run a command that must fail: one line on stderr, exit 2, no traceback, nothing changed."""
    before = ws.snapshot()
    run = ws.infra(*args)
    assert run.code == 2, (run.out, run.err)
    assert "Traceback" not in run.err
    assert run.err.count("\n") == 1 and run.err.startswith("error: "), run.err
    assert contains in run.err, run.err
    assert ws.snapshot() == before
    return run.err


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    """(lines only in before, lines only in after), as multisets in order."""
    old, new = before.splitlines(), after.splitlines()
    return [line for line in old if line not in new], [line for line in new if line not in old]


def comments(text: str) -> list[str]:
    return [line for line in text.splitlines() if "#" in line]


# --- show / diff / check ------------------------------------------------------------------------------------


def test_show_prints_exact_versions_locks_and_sources(ws: Workspace) -> None:
    run = ws.infra("show", "staging")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0] == "staging (versions/releases/staging.yaml)"
    assert lines[1].split() == ["component", "kind", "version", "image", "tag", "namespace", "from"]
    assert lines[3].split() == [
        "cert-manager",
        "platform",
        "v1.18.6",
        "chart",
        "appVersion",
        "cert-manager",
        "staging,",
        "locked",
    ]
    assert lines[4].split() == [
        "cluster-issuers",
        "platform",
        "2.0.2",
        "chart",
        "appVersion",
        "cert-manager",
        "staging",
    ]
    assert lines[6].split() == ["api", "service", "1.42.0", "1.42.0", "product", "staging"]


def test_show_dev_resolves_the_catalog(ws: Workspace) -> None:
    run = ws.infra("show", "dev")
    assert "follows catalog" in run.out.splitlines()[0]
    assert ws.json("show", "dev") == {
        "ingress-nginx": "4.14.5",
        "cert-manager": "v1.19.6",
        "cluster-issuers": "2.0.2",
        "external-dns": "1.20.0",
        "api": "1.42.0",
        "web": "2.7.1",
        "worker": "1.18.0",
    }


@pytest.mark.parametrize(
    "environment", ["dev", "staging", "production-weu", "production-neu", "enterprise-contoso", "onprem"]
)
def test_show_json_is_release_as_mapping(ws: Workspace, environment: str) -> None:
    from infra.versions import load_release

    assert ws.json("show", environment) == load_release(environment, ws.versions).as_mapping()


def test_diff_lists_what_differs(ws: Workspace) -> None:
    run = ws.infra("diff", "staging", "production-weu")
    assert run.code == 0
    rows = [line.split() for line in run.out.splitlines()]
    assert rows == [
        ["component", "staging", "production-weu"],
        ["ingress-nginx", "4.14.5", "4.13.9"],
        ["external-dns", "1.20.0", "1.19.0"],
        ["api", "1.42.0", "1.41.2"],
        ["web", "2.7.0", "2.6.4"],
        ["worker", "1.18.0", "1.17.1"],
    ]


def test_diff_json_shows_both_sides_and_absent_components(ws: Workspace) -> None:
    data = ws.json("diff", "production-weu", "enterprise-contoso")
    assert data == {
        "sso-bridge": {
            "production-weu": None,
            "enterprise-contoso": {"version": "0.9.3", "image_tag": "0.9.3"},
        }
    }
    assert ws.json("diff", "production-weu", "production-neu") == {}
    assert (
        ws.infra("diff", "production-weu", "production-neu").out
        == "production-weu and production-neu run the same versions\n"
    )


def test_diff_shows_an_image_tag_change(ws: Workspace) -> None:
    path = ws.file("releases/production-neu.yaml")
    path.write_text(path.read_text().replace("image_tag: 1.41.2", "image_tag: 1.41.2-hotfix1"))
    run = ws.infra("diff", "production-weu", "production-neu")
    assert run.out.splitlines()[1].split() == [
        "api",
        "1.41.2",
        "(image",
        "1.41.2)",
        "1.41.2",
        "(image",
        "1.41.2-hotfix1)",
    ]


def test_check_passes_on_the_committed_files(ws: Workspace) -> None:
    run = ws.infra("check")
    assert run.code == 0, run.err
    assert run.out.startswith("ok: versions/catalog.yaml (8 components); releases of 6 environments")


def test_check_refuses_a_release_file_without_environment(ws: Workspace) -> None:
    shutil.copy(ws.file("releases/staging.yaml"), ws.file("releases/qa.yaml"))
    refused(
        ws, "check", contains="versions/releases/qa.yaml: no environment 'qa' is defined in environments/"
    )


# --- bad input: one line, exit 2, files unchanged -----------------------------------------------------------

BREAKAGES = {
    "unknown component": (
        "releases/staging.yaml",
        "  external-dns: 1.20.0\n",
        "  external-dns: 1.20.0\n  redis: 7.2.0\n",
        "versions/releases/staging.yaml:10: components.redis: unknown component 'redis'",
    ),
    "malformed version": (
        "releases/production-weu.yaml",
        "ingress-nginx: 4.13.9",
        "ingress-nginx: ~4.13",
        "versions/releases/production-weu.yaml:6: components.ingress-nginx = '~4.13'",
    ),
    "latest": (
        "catalog.yaml",
        "version: 2.7.1",
        "version: latest",
        "versions/catalog.yaml:58: components.web.version = 'latest'",
    ),
    "duplicate key": (
        "catalog.yaml",
        "    chart: web\n",
        "    chart: web\n    chart: web2\n",
        "versions/catalog.yaml:57: duplicate key 'chart'",
    ),
    "unquoted number": (
        "releases/staging.yaml",
        "external-dns: 1.20.0",
        "external-dns: 1.20",
        "components.external-dns = 1.2; allowed: an exact semantic version",
    ),
}


@pytest.mark.parametrize("breakage", BREAKAGES, ids=list(BREAKAGES))
@pytest.mark.parametrize(
    "command",
    [
        ("show", "staging"),
        ("bump", "api", "1.43.0"),
        ("release", "staging"),
        ("promote", "staging", "production-weu"),
        ("check",),
    ],
    ids=lambda c: c[0],
)
def test_broken_files_stop_every_command(ws: Workspace, breakage: str, command: tuple[str, ...]) -> None:
    relative, old, new, message = BREAKAGES[breakage]
    path = ws.file(relative)
    path.write_text(path.read_text().replace(old, new, 1))
    if command == ("show", "staging") and relative == "releases/production-weu.yaml":
        command = ("show", "production-weu")
    refused(ws, *command, contains=message)


def test_unreadable_file(ws: Workspace) -> None:
    ws.file("catalog.yaml").write_bytes(b"components:\n  api: \xff\n")
    refused(ws, "bump", "api", "1.43.0", contains="versions/catalog.yaml: cannot read: not UTF-8 text")


def test_directory_instead_of_file(ws: Workspace) -> None:
    ws.file("releases/staging.yaml").unlink()
    ws.file("releases/staging.yaml").mkdir()
    refused(ws, "show", "staging", contains="versions/releases/staging.yaml: is a directory, not a file")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "qa"), "unknown environment 'qa': no release file versions/releases/qa.yaml; known: dev,"),
        (
            ("bump", "redis", "1.0.0"),
            "bump redis: unknown component 'redis': not in versions/catalog.yaml; allowed:",
        ),
        (("bump", "api", "1.43"), "bump api: version = '1.43'; allowed: an exact semantic version"),
        (("bump", "api", ">=1.43.0"), "bump api: version = '>=1.43.0'"),
        (("bump", "api", "1.43.0", "--image-tag", "latest"), "bump api: --image-tag = 'latest'"),
        (
            ("bump", "cert-manager", "1.19.2"),
            "allowed: a version written with a leading 'v', like the catalog's",
        ),
        (("lock", "redis", "--env", "staging"), "lock redis: unknown component 'redis'"),
        (("lock", "sso-bridge", "--env", "staging"), "cannot lock 'sso-bridge': staging does not run it"),
        (
            ("lock", "api", "--env", "dev"),
            "lock works on an environment that lists its own versions; dev follows",
        ),
        (("lock", "api"), "the following arguments are required: --env"),
        (("promote", "staging", "staging"), "promote: source and target are both 'staging'"),
        (("promote", "staging", "enterprise-contoso"), "enterprise-contoso follows production-weu"),
        (("promote", "dev", "production-weu"), "takes versions from staging or production environments only"),
        (("promote", "staging", "qa"), "unknown environment 'qa'"),
        (("release", "production-weu"), "release resolves staging environments only"),
        (("release", "dev"), "'dev' is a dev environment: it follows the catalog: infra versions bump"),
        (("frobnicate",), "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_input_is_one_line(ws: Workspace, args: tuple[str, ...], message: str) -> None:
    refused(ws, *args, contains=message)


# --- bump ---------------------------------------------------------------------------------------------------


def test_bump_records_the_latest_version_keeping_comments(ws: Workspace) -> None:
    before = ws.file("catalog.yaml").read_text()
    run = ws.infra("bump", "api", "1.43.0")
    assert run.code == 0, run.err
    assert run.out.splitlines()[0] == "catalog: api 1.42.0 → 1.43.0 (versions/catalog.yaml)"
    after = ws.file("catalog.yaml").read_text()
    assert changed_lines(before, after) == (
        ["    version: 1.42.0", "    image_tag: 1.42.0"],
        ["    version: 1.43.0", "    image_tag: 1.43.0"],
    )
    assert comments(after) == comments(before)
    assert ws.json("show", "dev")["api"] == "1.43.0"
    assert ws.json("show", "staging")["api"] == "1.42.0"  # staging moves only with `release staging`


def test_bump_with_image_tag_and_for_a_platform_chart(ws: Workspace) -> None:
    assert ws.infra("bump", "web", "2.8.0", "--image-tag", "2.8.0-build.7").code == 0
    assert ws.infra("show", "dev").out.count("2.8.0-build.7") == 1
    assert ws.infra("bump", "ingress-nginx", "4.14.6", "--image-tag", "v1.14.6").code == 0
    run = ws.infra("bump", "ingress-nginx", "4.14.7")
    assert run.code == 0
    assert "dropped the image_tag override v1.14.6" in run.out
    assert (
        "image_tag"
        not in ws.file("catalog.yaml").read_text().split("ingress-nginx:")[1].split("cert-manager")[0]
    )


def test_bump_to_the_same_version_changes_nothing(ws: Workspace) -> None:
    before = ws.snapshot()
    run = ws.infra("bump", "api", "1.42.0")
    assert run.code == 0
    assert run.out == "catalog: api is already at 1.42.0; nothing to do\n"
    assert ws.snapshot() == before


def test_bump_downgrade_on_purpose(ws: Workspace) -> None:
    # No release file pins a web newer than 2.7.0 (staging runs 2.7.0, production 2.6.4).
    assert ws.infra("bump", "web", "2.7.0", "--allow-downgrade").code == 0
    assert ws.json("show", "dev")["web"] == "2.7.0"


def test_bump_downgrade_below_a_pin_is_refused(ws: Workspace) -> None:
    # The catalog is the list of versions that exist: staging and production-weu pin api 1.42.0 and 1.41.2.
    before = ws.snapshot()
    run = ws.infra("bump", "api", "1.41.0", "--allow-downgrade")
    assert run.code == 2
    assert run.err.startswith("error: bump api 1.41.0 refused: ")
    assert "versions/releases/production-weu.yaml pins 1.41.2" in run.err
    assert "versions/releases/staging.yaml pins 1.42.0" in run.err
    assert "pin api at 1.41.0 in its release file instead" in run.err
    assert ws.snapshot() == before


def test_bump_older_than_the_catalog_is_a_no_op_with_a_warning(ws: Workspace) -> None:
    """Builds finish out of order: 1.41.0's pipeline bumps after 1.42.0's. It succeeds and changes nothing."""
    before = ws.snapshot()
    run = ws.infra("bump", "api", "1.41.0")
    assert run.code == 0, run.err
    assert run.out == ""
    assert run.err == (
        "warning: bump api: 1.41.0 is older than the catalog's 1.42.0 (a newer build was recorded first); "
        "catalog unchanged (pass --allow-downgrade to record an older version on purpose)\n"
    )
    assert ws.snapshot() == before


# --- release staging and locks ------------------------------------------------------------------------------


def test_release_staging_takes_the_catalog_but_keeps_locks(ws: Workspace) -> None:
    ws.infra("bump", "api", "1.43.0")
    before = ws.file("releases/staging.yaml").read_text()
    run = ws.infra("release", "staging")
    assert run.code == 0, run.err
    assert run.out.splitlines()[:3] == [
        "staging ← catalog (versions/releases/staging.yaml):",
        "  api: 1.42.0 → 1.43.0",
        "  web: 2.7.0 → 2.7.1",
    ]
    assert (
        "  cert-manager: kept at v1.18.6 (locked; catalog has v1.19.6; lift with infra versions unlock "
        "cert-manager --env staging)"
    ) in run.out
    after = ws.file("releases/staging.yaml").read_text()
    assert comments(after) == comments(before)
    assert ws.json("show", "staging") == {
        "ingress-nginx": "4.14.5",
        "cert-manager": "v1.18.6",
        "cluster-issuers": "2.0.2",
        "external-dns": "1.20.0",
        "api": "1.43.0",
        "web": "2.7.1",
        "worker": "1.18.0",
    }
    again = ws.snapshot()
    assert ws.infra("release", "staging").out.startswith("staging: already at the catalog's latest")
    assert ws.snapshot() == again


def test_lock_then_release_keeps_the_locked_component(ws: Workspace) -> None:
    before = ws.file("releases/staging.yaml").read_text()
    run = ws.infra("lock", "web", "--env", "staging")
    assert run.code == 0
    assert "locked web at 2.7.0" in run.out and "infra versions unlock web --env staging" in run.out
    assert changed_lines(before, ws.file("releases/staging.yaml").read_text()) == ([], ["  - web"])
    assert ws.infra("lock", "web", "--env", "staging").out.endswith(
        "already locked at 2.7.0; nothing to do\n"
    )
    ws.infra("release", "staging")
    assert ws.json("show", "staging")["web"] == "2.7.0"
    assert ws.infra("unlock", "web", "--env", "staging").code == 0
    assert ws.file("releases/staging.yaml").read_text() == before
    ws.infra("release", "staging")
    assert ws.json("show", "staging")["web"] == "2.7.1"


def test_unlock_of_an_unlocked_component_changes_nothing(ws: Workspace) -> None:
    before = ws.snapshot()
    run = ws.infra("unlock", "api", "--env", "staging")
    assert run.code == 0 and "api is not locked (locked: cert-manager)" in run.out
    assert ws.snapshot() == before


def test_unlock_last_lock_and_lock_again_keeps_the_file_valid(ws: Workspace) -> None:
    assert ws.infra("unlock", "cert-manager", "--env", "staging").code == 0
    assert "locked: []" in ws.file("releases/staging.yaml").read_text()
    assert ws.infra("lock", "api", "--env", "staging").code == 0
    assert ws.infra("check").code == 0


# --- promote ------------------------------------------------------------------------------------------------


def test_promote_copies_exactly_and_prints_the_diff(ws: Workspace) -> None:
    before = ws.file("releases/production-weu.yaml").read_text()
    run = ws.infra("promote", "staging", "production-weu")
    assert run.code == 0, run.err
    assert run.out.splitlines()[:6] == [
        "production-weu ← staging (versions/releases/production-weu.yaml):",
        "  ingress-nginx: 4.13.9 → 4.14.5",
        "  external-dns: 1.19.0 → 1.20.0",
        "  api: 1.41.2 → 1.42.0",
        "  web: 2.6.4 → 2.7.0",
        "  worker: 1.17.1 → 1.18.0",
    ]
    assert ws.json("show", "production-weu") == ws.json("show", "staging")
    assert ws.json("diff", "staging", "production-weu") == {}
    after = ws.file("releases/production-weu.yaml").read_text()
    assert comments(after) == comments(before)
    assert "locked" not in after  # staging's locks stay staging's
    # enterprise-contoso follows production-weu, so it moves too, keeping its integration
    assert ws.json("show", "enterprise-contoso") == {**ws.json("show", "staging"), "sso-bridge": "0.9.3"}
    assert ws.infra("promote", "staging", "production-weu").out.endswith("nothing to do\n")


def test_promote_adds_and_removes_components(ws: Workspace) -> None:
    staging = ws.file("releases/staging.yaml")
    staging.write_text(staging.read_text().replace("  external-dns: 1.20.0\n", ""))
    refused(ws, "promote", "staging", "production-neu",
            contains="promote staging production-neu refused: it removes external-dns 1.19.0 from production-neu; "
            "a removed component's Helm release is uninstalled with everything its chart created; allowed: pass "
            "--allow-removal to do it on purpose; files unchanged")
    run = ws.infra("promote", "staging", "production-neu", "--allow-removal")
    assert run.code == 0, run.err
    assert "- external-dns 1.19.0" in run.out.splitlines()
    assert "allowed on purpose: it removes external-dns 1.19.0 from production-neu" in run.out.splitlines()
    assert ws.json("show", "production-neu") == ws.json("show", "staging")
    run = ws.infra("promote", "production-weu", "production-neu", "--allow-downgrade")  # ingress-nginx goes back too
    assert run.code == 0, run.err
    assert "+ external-dns 1.19.0" in run.out.splitlines()
    assert ws.json("show", "production-neu") == ws.json("show", "production-weu")


def test_promote_refuses_a_platform_chart_downgrade_in_the_target_and_its_followers(ws: Workspace) -> None:
    production, staged = ws.json("show", "production-weu"), ws.json("show", "staging")
    lower = older_than(production["ingress-nginx"])
    staging = ws.file("releases/staging.yaml")
    staging.write_text(staging.read_text().replace(f"ingress-nginx: {staged['ingress-nginx']}",
                                                   f"ingress-nginx: {lower}"))
    refused(ws, "promote", "staging", "production-weu",
            contains=f"promote staging production-weu refused: it downgrades platform chart ingress-nginx "
            f"{production['ingress-nginx']} → {lower} in production-weu and enterprise-contoso; an older chart may "
            "not read the CRDs and objects the newer one stored; allowed: pass --allow-downgrade to do it on "
            "purpose; files unchanged")
    run = ws.infra("promote", "staging", "production-weu", "--allow-downgrade")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert "enterprise-contoso follows production-weu and changes with it:" in lines
    assert f"  ingress-nginx: {production['ingress-nginx']} → {lower}" in lines
    assert (f"allowed on purpose: it downgrades platform chart ingress-nginx {production['ingress-nginx']} → "
            f"{lower} in production-weu and enterprise-contoso") in lines
    # a service may go back without the flag: the product's own charts are the operator's to roll back
    api = ws.json("show", "staging")["api"]
    staging.write_text(staging.read_text().replace(f"version: {api}\n    image_tag: {api}",
                                                   f"version: {older_than(api)}\n    image_tag: {older_than(api)}"))
    assert ws.infra("promote", "staging", "production-weu").code == 0


def test_a_cert_manager_downgrade_cites_its_upgrade_policy(ws: Workspace) -> None:
    running, staged = ws.json("show", "production-neu")["cert-manager"], ws.json("show", "staging")["cert-manager"]
    newer = next_minor(staged)
    production = ws.file("releases/production-neu.yaml")
    production.write_text(production.read_text().replace(f"cert-manager: {running}", f"cert-manager: {newer}"))
    refused(ws, "promote", "staging", "production-neu",
            contains=f"it downgrades platform chart cert-manager {newer} → {staged} in production-neu; an older "
            "chart may not read the CRDs and objects the newer one stored; cert-manager supports moving one minor "
            "version at a time (https://cert-manager.io/docs/installation/upgrade/); allowed: pass --allow-downgrade")


def test_promote_notes_a_cert_manager_jump_over_a_minor_version(ws: Workspace) -> None:
    running, staged = ws.json("show", "production-neu")["cert-manager"], ws.json("show", "staging")["cert-manager"]
    jump = next_minor(next_minor(running))
    assert ws.infra("bump", "cert-manager", jump).code == 0  # a pin names a version the catalog knows
    staging = ws.file("releases/staging.yaml")
    staging.write_text(staging.read_text().replace(f"cert-manager: {staged}", f"cert-manager: {jump}"))
    run = ws.infra("promote", "staging", "production-neu")
    assert run.code == 0, run.err
    assert (f"note: cert-manager in production-neu moves {running} → {jump}, more than one minor version; its "
            "maintainers support one minor version at a time (https://cert-manager.io/docs/installation/upgrade/): "
            "go through each minor version") in run.out.splitlines()
    one_minor = next_minor(ws.json("show", "production-weu")["cert-manager"])
    staging.write_text(staging.read_text().replace(f"cert-manager: {jump}", f"cert-manager: {one_minor}"))
    run = ws.infra("promote", "staging", "production-weu")
    assert run.code == 0, run.err
    assert "note: cert-manager" not in run.out


def older_than(version: str) -> str:
    """A version below ``version``: its patch 0, or the previous minor's .0 (keeps a leading v)."""
    prefix = "v" if version.startswith("v") else ""
    major, minor, patch_number = (int(p) for p in version.lstrip("v").split("."))
    return f"{prefix}{major}.{minor}.0" if patch_number else f"{prefix}{major}.{minor - 1}.0"


def next_minor(version: str) -> str:
    """The next minor release's .1 (keeps a leading v)."""
    prefix = "v" if version.startswith("v") else ""
    major, minor, _ = version.lstrip("v").split(".")
    return f"{prefix}{major}.{int(minor) + 1}.1"


def test_promote_into_staging_refuses_to_change_a_lock(ws: Workspace) -> None:
    ws.infra("lock", "api", "--env", "staging")
    message = refused(
        ws, "promote", "production-weu", "staging", contains="promote production-weu staging refused"
    )
    assert message.strip() == (
        "error: versions/releases/staging.yaml: promote production-weu staging refused, locked in staging: "
        "api (locked at 1.42.0) would change to 1.41.2; lift the lock first: "
        "infra versions unlock api --env staging"
    )


# --- patch --------------------------------------------------------------------------------------------------


def next_patch(version: str, step: int = 1) -> str:
    """``version`` with its patch number raised by ``step`` (keeps a leading v)."""
    prefix = "v" if version.startswith("v") else ""
    major, minor, patch_number = version.lstrip("v").split(".")
    return f"{prefix}{major}.{minor}.{int(patch_number) + step}"


def test_patch_moves_one_component_of_production_within_its_minor(ws: Workspace) -> None:
    before_file = ws.file("releases/production-weu.yaml").read_text()
    before = ws.json("show", "production-weu")
    target = next_patch(before["ingress-nginx"], 4)
    run = ws.infra("patch", "ingress-nginx", target, "--env", "production-weu")
    assert run.code == 0, run.err
    assert run.out.splitlines() == [
        "production-weu: patch release (versions/releases/production-weu.yaml):",
        f"  ingress-nginx: {before['ingress-nginx']} → {target}",
        "review and commit versions/releases/production-weu.yaml; the production-weu pipeline deploys it",
    ]
    assert ws.json("show", "production-weu") == {**before, "ingress-nginx": target}
    after_file = ws.file("releases/production-weu.yaml").read_text()
    assert comments(after_file) == comments(before_file)
    assert changed_lines(before_file, after_file) == (
        [f"  ingress-nginx: {before['ingress-nginx']}"], [f"  ingress-nginx: {target}"]
    )
    # enterprise-contoso follows production-weu: it gets the patch without a change of its own file
    assert ws.json("show", "enterprise-contoso")["ingress-nginx"] == target
    again = ws.snapshot()
    assert ws.infra("patch", "ingress-nginx", target, "--env", "production-weu").out.endswith("nothing to do\n")
    assert ws.snapshot() == again


def test_patch_of_a_service_sets_the_image_tag_too(ws: Workspace) -> None:
    target = next_patch(ws.json("show", "production-neu")["api"])
    assert ws.infra("patch", "api", target, "--env", "production-neu").code == 0
    text = ws.file("releases/production-neu.yaml").read_text()
    assert f"  api:\n    version: {target}\n    image_tag: {target}\n" in text


def test_patch_of_a_locked_component_takes_the_explicit_path(ws: Workspace) -> None:
    locked = ws.json("show", "staging")["cert-manager"]
    target = next_patch(locked)
    refused(
        ws,
        "patch", "cert-manager", target, "--env", "staging",
        contains=f"cert-manager (locked at {locked}) would change to {target}; lift the lock first: "
        "infra versions unlock cert-manager --env staging",
    )
    assert ws.infra("unlock", "cert-manager", "--env", "staging").code == 0
    assert ws.infra("patch", "cert-manager", target, "--env", "staging").code == 0
    assert ws.infra("lock", "cert-manager", "--env", "staging").code == 0
    assert ws.json("show", "staging")["cert-manager"] == target
    assert ws.infra("show", "staging").out.count("locked") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("patch", "ingress-nginx", "{minor_up}", "--env", "production-weu"), "is not a newer patch release of"),
        (("patch", "ingress-nginx", "{down}", "--env", "production-weu"), "is not a newer patch release of"),
        (
            ("patch", "cert-manager", "1.99.0", "--env", "production-weu"),
            "allowed: a version written with a leading 'v'",
        ),
        (("patch", "ingress-nginx", "4.x", "--env", "production-weu"), "version = '4.x'"),
        (("patch", "api", "9.9.9", "--env", "dev"), "patch works on an environment that lists its own versions; dev"),
        (("patch", "api", "9.9.9", "--env", "enterprise-contoso"), "enterprise-contoso follows production-weu"),
        (("patch", "sso-bridge", "0.9.4", "--env", "staging"), "cannot patch 'sso-bridge': staging does not run it"),
        (("patch", "redis", "1.0.0", "--env", "staging"), "unknown component 'redis'"),
        (("patch", "api", "1.0.0"), "the following arguments are required: --env"),
    ],
)
def test_patch_refuses_anything_but_a_newer_patch(ws: Workspace, args: tuple[str, ...], message: str) -> None:
    current = ws.json("show", "production-weu")["ingress-nginx"]
    major, minor, patch_number = current.split(".")
    values = {"minor_up": f"{major}.{int(minor) + 1}.0", "down": f"{major}.{minor}.{max(int(patch_number) - 1, 0)}"}
    refused(ws, *(a.format(**values) for a in args), contains=message)


# --- rollback (in a git repository) -------------------------------------------------------------------------


@pytest.fixture
def repo(ws: Workspace) -> Workspace:
    ws.git("init", "-q", "-b", "main")
    ws.commit("versions: initial")
    return ws


def test_rollback_restores_the_previous_committed_version(repo: Workspace) -> None:
    original = repo.file("releases/production-weu.yaml").read_bytes()
    production, staged = repo.json("show", "production-weu"), repo.json("show", "staging")
    repo.infra("promote", "staging", "production-weu")
    repo.commit("promote staging to production-weu")
    # undoing the promotion takes ingress-nginx and external-dns back: platform-chart downgrades, on purpose only
    assert [c for c in ("ingress-nginx", "external-dns") if staged[c] == production[c]] == []
    refused(repo, "rollback", "production-weu",
            contains=f"it downgrades platform chart ingress-nginx {staged['ingress-nginx']} → "
            f"{production['ingress-nginx']} in production-weu and enterprise-contoso; downgrades platform chart "
            f"external-dns {staged['external-dns']} → {production['external-dns']} in production-weu and "
            "enterprise-contoso;")
    run = repo.infra("rollback", "production-weu", "--allow-downgrade")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0].startswith("production-weu: restored versions/releases/production-weu.yaml as of commit ")
    assert lines[0].endswith("(versions: initial),")
    assert "  api: 1.42.0 → 1.41.2" in lines
    assert lines[-1].startswith("review it (git diff versions/releases/production-weu.yaml), then commit it")
    assert repo.file("releases/production-weu.yaml").read_bytes() == original
    assert repo.git("status", "--porcelain") == " M versions/releases/production-weu.yaml\n"


def test_rollback_refuses_uncommitted_changes(repo: Workspace) -> None:
    repo.infra("promote", "staging", "production-weu")
    repo.commit("promote")
    repo.infra("bump", "api", "1.43.0")
    repo.infra("release", "staging")
    repo.infra("promote", "staging", "production-weu")
    refused(
        repo,
        "rollback",
        "production-weu",
        contains="versions/releases/production-weu.yaml: has uncommitted changes; rollback restores the "
        "version before the last commit, so commit or discard them first",
    )


def test_rollback_refuses_without_a_previous_version(repo: Workspace) -> None:
    refused(
        repo,
        "rollback",
        "staging",
        contains="versions/releases/staging.yaml: no previous version in git "
        "history: its only version is commit ",
    )


def test_rollback_outside_git(ws: Workspace) -> None:
    if subprocess.run(["git", "rev-parse"], cwd=ws.root, capture_output=True, check=False).returncode == 0:
        pytest.fail("the temporary directory is inside a git repository; this test needs one outside")
    refused(ws, "rollback", "staging", contains="not inside a git repository")


def test_rollback_of_staging_holds_the_locks(repo: Workspace) -> None:
    repo.infra("bump", "api", "1.43.0")
    repo.infra("release", "staging")
    repo.commit("release staging")
    repo.infra("lock", "api", "--env", "staging")
    repo.commit("lock api")
    # the version before "lock api" has api 1.43.0 unlocked: restoring it would drop the lock
    refused(
        repo,
        "rollback",
        "staging",
        contains="api (locked at 1.43.0) would lose its lock; lift the lock "
        "first: infra versions unlock api --env staging",
    )


def test_rollback_refuses_a_previous_version_that_no_longer_loads(repo: Workspace) -> None:
    staging = repo.file("releases/staging.yaml")
    staging.write_text(
        staging.read_text()
        .replace("  external-dns: 1.20.0\n", "  external-dns: 1.20.0\n  old: 1.0.0\n")
        .replace("components:\n", "components:\n", 1)
    )
    catalog = repo.file("catalog.yaml")
    catalog.write_text(
        catalog.read_text() + "  old:\n    kind: platform\n    repository: https://charts.example.com\n"
        "    chart: old\n    namespace: old\n    version: 1.0.0\n"
    )
    repo.commit("add old")
    staging.write_text(staging.read_text().replace("  old: 1.0.0\n", ""))
    repo.commit("remove old from staging")
    catalog.write_text(catalog.read_text().split("  old:\n")[0])
    repo.commit("remove old from the catalog")
    refused(repo, "rollback", "staging", contains="unknown component 'old'")


def test_rollback_refuses_to_remove_a_component_the_previous_version_did_not_have(repo: Workspace) -> None:
    """issue 17, item 8: production-weu's previous release file predates cluster-issuers; undoing the last commit
    would uninstall the ClusterIssuers in production-weu and in enterprise-contoso, which follows it."""
    release = repo.file("releases/production-weu.yaml")
    current = release.read_text()
    release.write_text(current.replace("  cluster-issuers: 2.0.2\n", ""))
    repo.commit("production-weu before cluster-issuers")
    release.write_text(current)
    repo.commit("cluster-issuers wherever cert-manager runs")
    refused(repo, "rollback", "production-weu",
            contains="refused: it removes cluster-issuers 2.0.2 from production-weu and enterprise-contoso; a removed "
            "component's Helm release is uninstalled with everything its chart created; allowed: pass "
            "--allow-removal to do it on purpose; files unchanged")
    run = repo.infra("rollback", "production-weu", "--allow-removal")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert "- cluster-issuers 2.0.2" in lines
    assert "enterprise-contoso follows production-weu and changes with it:" in lines
    assert "allowed on purpose: it removes cluster-issuers 2.0.2 from production-weu and enterprise-contoso" in lines
    assert "cluster-issuers" not in repo.json("show", "enterprise-contoso")
