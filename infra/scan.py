"""The policy gate: checkov over every synthesized stack, a committed skip list, a table of results.

``python -m infra.scan`` (``make scan``) synthesizes, scans and prints environment x passed / failed / skipped;
it exits 1 when a failed check is not covered by ``security/checkov-skips.yaml`` (or a skip no longer matches
anything, so the list cannot rot), 2 on bad input. ``tests/test_policy_scan.py`` runs the same gate.

checkov runs from its own venv (``.venv-scan``, locked in ``requirements-scan.lock``: its pins conflict with the
test tools), offline: ``BC_SKIP_MAPPING=TRUE``, ``--skip-download``, ``--framework terraform_json``.

Parallel: the stacks of one synthesized output are split into batches of about equal size, one checkov process
per batch, as many at once as there are cores (at most 8; ``INFRA_SCAN_WORKERS`` overrides). Each process pays
checkov's start-up (about 2 s of CPU) once, so a batch per core beats a process per stack; checkov's own worker
pool (``CHECKOV_WORKERS_NUMBER``) gets the cores left per process.

Two adaptations, and only these: checkov 3.3.30's terraform_json parser raises "this method receives only
dicts" on a string-valued ``terraform.required_version``, and fails the same way on the top-level ``import`` list
(the import block that adopts the DNS delegation record, building_blocks/dns.py); either way it then reports
*nothing* for the whole file. The scanned copy of each stack drops those two keys (no checkov check reads them;
``tests/test_stacks.py`` asserts the version is pinned, ``tests/blocks/test_dns.py`` checks the import blocks).
Any other parsing error fails the gate.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.errors import ConfigError
from infra.platform_config import REPO_ROOT

SKIPS_FILE = REPO_ROOT / "security" / "checkov-skips.yaml"
CHECKOV = Path(os.environ.get("INFRA_CHECKOV", REPO_ROOT / ".venv-scan" / "bin" / "checkov"))
WORKERS_VARIABLE = "INFRA_SCAN_WORKERS"
MAX_WORKERS = 8
_CHECK_ID = re.compile(r"^CKV2?_[A-Z0-9]+_\d+$")
ALL = "*"


@dataclass(frozen=True)
class Skip:
    """One committed exception: a check, where it applies (as narrowly as possible), and why."""

    check: str
    environments: tuple[str, ...]  # ("*",) = every environment
    resources: tuple[str, ...]  # globs over "<type>.<logical id>"; () = every resource of those environments
    reason: str

    def covers(self, environment: str, resource: str, check: str) -> bool:
        return (check == self.check
                and (self.environments == (ALL,) or environment in self.environments)
                and (not self.resources or any(fnmatch.fnmatchcase(resource, r) for r in self.resources)))


@dataclass
class Finding:
    environment: str
    check: str
    resource: str  # "<type>.<logical id>"
    name: str


@dataclass
class StackResult:
    passed: int = 0
    failed: list[Finding] = field(default_factory=list)
    skipped: list[Finding] = field(default_factory=list)
    parsing_errors: int = 0


def load_skips(path: Path = SKIPS_FILE, environments: list[str] | None = None) -> list[Skip]:
    """Read and validate the skip list: every entry names a check id, its environments, a one-line reason."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    rel = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or []
    except (OSError, YAMLError) as error:
        raise ConfigError(f"{rel}: cannot read: {str(error).splitlines()[0]}") from None
    if not isinstance(data, list):
        raise ConfigError(f"{rel}: expected a list of skips (check, environments, reason)")
    skips = []
    for index, entry in enumerate(data):
        where = f"{rel} entry {index + 1}"
        if not isinstance(entry, dict) or set(entry) - {"check", "environments", "resources", "reason"}:
            raise ConfigError(f"{where}: allowed keys: check, environments, resources, reason")
        check, envs, reason = entry.get("check"), entry.get("environments"), entry.get("reason")
        resources = entry.get("resources", [])
        if not isinstance(check, str) or not _CHECK_ID.match(check):
            raise ConfigError(f"{where}: check = {check!r}; allowed: a checkov id such as CKV_AZURE_1")
        if envs == ALL:
            envs = [ALL]
        if not isinstance(envs, list) or not envs or not all(isinstance(e, str) for e in envs):
            raise ConfigError(f"{where} ({check}): environments = {envs!r}; allowed: '*' or a list of names")
        if environments is not None:
            unknown = [e for e in envs if e != ALL and e not in environments]
            if unknown:
                raise ConfigError(f"{where} ({check}): unknown environment {unknown[0]!r}; allowed: "
                                  f"{', '.join(environments)}")
        if not isinstance(resources, list) or not all(isinstance(r, str) and "." in r for r in resources):
            raise ConfigError(f"{where} ({check}): resources = {resources!r}; allowed: a list of "
                              "'<resource type>.<logical id glob>'")
        if not isinstance(reason, str) or len(reason.strip()) < 20 or "\n" in reason.strip():
            raise ConfigError(f"{where} ({check}): reason must be one line of at least 20 characters")
        if envs == [ALL] and not resources and "all environments" not in reason.lower():
            raise ConfigError(f"{where} ({check}): a skip for every resource in every environment needs a reason "
                              "that says why it holds for all environments (include 'all environments')")
        skips.append(Skip(check=check, environments=tuple(envs), resources=tuple(resources),
                          reason=reason.strip()))
    return skips


def _scannable_copy(stack_json: Path, target: Path) -> dict[str, Any]:
    data = json.loads(stack_json.read_text())
    copy = json.loads(json.dumps(data))
    copy.get("terraform", {}).pop("required_version", None)  # see the module docstring
    copy.pop("import", None)  # likewise
    target.mkdir(parents=True)
    (target / "cdk.tf.json").write_text(json.dumps(copy, indent=2))
    return data


def _resource_address(stack: dict[str, Any], checkov_resource: str) -> str:
    """checkov names resources "<type>.<id>" or "resource.<id>"; return "<type>.<id>" from the stack."""
    kind, _, logical_id = checkov_resource.partition(".")
    if kind.startswith(("azurerm_", "helm_", "kubernetes_", "random_")):
        return checkov_resource
    for resource_type, resources in stack.get("resource", {}).items():
        if logical_id in resources:
            return f"{resource_type}.{logical_id}"
    return checkov_resource


def scan_workers(stacks: int) -> int:
    """How many checkov processes run at once: ``$INFRA_SCAN_WORKERS``, else one per core (at most
    ``MAX_WORKERS``), never more than there are stacks."""
    text = os.environ.get(WORKERS_VARIABLE, "").strip()
    if text and not (text.isdigit() and int(text) >= 1):
        raise ConfigError(f"{WORKERS_VARIABLE}={text!r}; allowed: a whole number ≥ 1, or unset (one per core)")
    wanted = int(text) if text else min(os.cpu_count() or 1, MAX_WORKERS)
    return max(1, min(wanted, stacks))


def batches(sizes: dict[str, int], count: int) -> list[list[str]]:
    """``sizes`` (stack → bytes) split into ``count`` batches of about equal total size: largest stack first,
    each into the lightest batch so far; every batch in ``sizes`` order, empty batches dropped."""
    loads = [0] * count
    members: list[list[str]] = [[] for _ in range(count)]
    for name in sorted(sizes, key=lambda n: (-sizes[n], n)):
        lightest = loads.index(min(loads))
        loads[lightest] += sizes[name]
        members[lightest].append(name)
    order = list(sizes)
    return [sorted(batch, key=order.index) for batch in members if batch]


def _reports(folders: list[Path], workers: int) -> list[dict[str, Any]]:
    """Start one checkov per folder, all at once, and return their JSON reports."""
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
           "LOG_LEVEL": "ERROR", "CHECKOV_WORKERS_NUMBER": str(max(1, (os.cpu_count() or 1) // workers))}
    with contextlib.ExitStack() as files:
        running = []
        for folder in folders:
            stdout = files.enter_context(tempfile.TemporaryFile("w+"))
            stderr = files.enter_context(tempfile.TemporaryFile("w+"))
            command = [str(CHECKOV), "-d", str(folder), "--framework", "terraform_json", "--skip-download",
                       "-o", "json", "--soft-fail"]
            process = files.enter_context(subprocess.Popen(command, stdout=stdout, stderr=stderr, text=True,
                                                           env=env))
            running.append((process, stdout, stderr))
        reports: list[dict[str, Any]] = []
        for process, stdout, stderr in running:
            try:
                code = process.wait(timeout=600)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
            stdout.seek(0)
            stderr.seek(0)
            try:
                report = json.loads(stdout.read())
            except json.JSONDecodeError:
                tail = (stderr.read().strip().splitlines() or ["no output"])[-1]
                raise ConfigError(f"checkov produced no JSON report (exit {code}): {tail}") from None
            reports += report if isinstance(report, list) else [report]
    return reports


def run_checkov(stacks_dir: Path, names: list[str], skips: list[Skip],
                workers: int | None = None) -> dict[str, StackResult]:
    """Scan every stack in ``stacks_dir`` (``cdktf.out/stacks``) and sort findings into failed and skipped;
    ``workers`` checkov processes at once (default :func:`scan_workers`), each over one batch of stacks."""
    if not CHECKOV.exists():
        raise ConfigError(f"{CHECKOV}: checkov not installed; run `make scan` or `make test` (they install it)")
    workers = max(1, min(workers or scan_workers(len(names)), len(names)))
    results: dict[str, StackResult] = {name: StackResult() for name in names}
    with tempfile.TemporaryDirectory(prefix="checkov-") as tmp:
        sizes = {name: (stacks_dir / name / "cdk.tf.json").stat().st_size for name in names}
        stacks: dict[str, dict[str, Any]] = {}
        folders = []
        for number, batch in enumerate(batches(sizes, workers)):
            folder = Path(tmp) / f"batch-{number}"
            for name in batch:
                stacks[name] = _scannable_copy(stacks_dir / name / "cdk.tf.json", folder / name)
            folders.append(folder)
        for part in _reports(folders, workers):
            for outcome in ("passed_checks", "failed_checks"):
                for check in part.get("results", {}).get(outcome, []):
                    name = Path(check["file_abs_path"]).parent.name
                    result = results[name]
                    if outcome == "passed_checks":
                        result.passed += 1
                        continue
                    finding = Finding(environment=name, check=check["check_id"],
                                      resource=_resource_address(stacks[name], check["resource"]),
                                      name=check["check_name"])
                    if any(s.covers(name, finding.resource, finding.check) for s in skips):
                        result.skipped.append(finding)
                    else:
                        result.failed.append(finding)
            for path in part.get("results", {}).get("parsing_errors", []):
                results[Path(path).parent.name].parsing_errors += 1
    return results


def unused_skips(results: dict[str, StackResult], skips: list[Skip]) -> list[Skip]:
    """Skips that cover no finding: stale entries to delete."""
    used = {id(s) for r in results.values() for f in r.skipped for s in skips
            if s.covers(f.environment, f.resource, f.check)}
    return [s for s in skips if id(s) not in used]


def table(results: dict[str, StackResult]) -> str:
    width = max(len("environment"), *(len(n) for n in results))
    lines = [f"{'environment':<{width}}  passed  failed  skipped  parse-errors"]
    for name, r in results.items():
        lines.append(f"{name:<{width}}  {r.passed:>6}  {len(r.failed):>6}  {len(r.skipped):>7}  "
                     f"{r.parsing_errors:>12}")
    return "\n".join(lines)


def main() -> int:
    from infra.app import OUTDIR, OUTDIR_VARIABLE, synth

    try:
        # Every stack, whatever INFRA_STACKS says: the skip list and its staleness check cover them all.
        names = synth(stacks=[])
        skips = load_skips(environments=names)
        results = run_checkov(Path(os.environ.get(OUTDIR_VARIABLE) or OUTDIR) / "stacks", names, skips)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    print(table(results))
    problems = [f"FAILED {f.check} {f.environment} {f.resource}: {f.name}"
                for r in results.values() for f in r.failed]
    problems += [f"PARSE ERROR in {name}" for name, r in results.items() if r.parsing_errors]
    problems += [f"UNUSED SKIP {s.check} {','.join(s.environments)}: delete it from "
                 f"{SKIPS_FILE.relative_to(REPO_ROOT)}" for s in unused_skips(results, skips)]
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
