#!/usr/bin/env python3
"""Record a version change on the platform repository's main branch through a pull request that completes by
itself when its checks pass - never by pushing to main (docs/pipelines.md "Recording versions").

    record_versions.py bump <component> <version>     # service pipelines (templates/service-build.yml)
    record_versions.py release-staging                 # release.yml versions=re-resolve

Both run the same loop, up to ``--attempts`` times with a growing, jittered pause between attempts (so
concurrent runs do not retry in lock-step): fetch main, reset the work tree to it, run the ``infra versions``
command, commit the result to the branch ``versions/<what>`` and force-push that branch with a lease (a
concurrent run that updated the branch in the meantime makes the push fail, and the loop starts over on a
fresh main). Then the pull request from that branch into main is created (or reused) and set to auto-complete
(squash, delete the branch). Nothing is ever pushed to main, so the build identity needs Contribute on the
repository but not "Bypass policies when pushing" (docs/pipelines.md "What to configure in Azure DevOps").

- ``bump``: one branch per component, so a newer build of a component updates its open pull request instead
  of racing it. A bump that is not newer than the version main or the open pull request already records
  (builds finishing out of order) records nothing and says so.
- ``release-staging``: waits (``--wait-minutes``) for its pull request to complete, re-resolving on a fresh
  main if the pull request turns out to conflict, then checks out the merge commit, so the run goes on to test,
  synthesize and deploy exactly what main now holds. Nothing to change: the run deploys main as it is.

Azure DevOps REST API 7.1 (learn.microsoft.com/rest/api/azure/devops/git/pull-requests: Create, Get Pull
Requests, Update with ``autoCompleteSetBy``/``completionOptions``), authenticated with the job's
``SYSTEM_ACCESSTOKEN``. The API base is derived from the ``origin`` remote
(``https://dev.azure.com/<org>/<project>/_git/<repo>``); ``RECORD_VERSIONS_API`` overrides it.
Exit 0 on success (including "nothing to record"), 1 with one ``##vso[task.logissue type=error]`` line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

MAIN = "main"
API_VERSION = "7.1"


class Failure(Exception):
    """Stops the run with one error line."""


def log(message: str) -> None:
    print(message, flush=True)


def git(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise Failure(f"git {' '.join(args)} failed: {(result.stderr or result.stdout).strip()}")
    return result


def api_base() -> str:
    """The repository's REST base: the override, else derived from the origin remote's URL."""
    override = os.environ.get("RECORD_VERSIONS_API")
    if override:
        return override.rstrip("/")
    remote = git("remote", "get-url", "origin").stdout.strip()
    if "/_git/" not in remote:
        raise Failure(f"origin {remote!r} is not an Azure Repos URL (.../<project>/_git/<repository>)")
    left, _, repository = remote.partition("/_git/")
    parts = urllib.parse.urlsplit(left)
    host = parts.hostname or ""
    collection = urllib.parse.urlunsplit((parts.scheme, host + (f":{parts.port}" if parts.port else ""),
                                          parts.path, "", ""))
    return f"{collection}/_apis/git/repositories/{repository.split('/')[0]}"


def request(method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    token = os.environ.get("SYSTEM_ACCESSTOKEN", "")
    if not token:
        raise Failure("SYSTEM_ACCESSTOKEN is empty: map $(System.AccessToken) into the step's env")
    separator = "&" if "?" in url else "?"
    data = json.dumps(body).encode() if body is not None else None
    http = urllib.request.Request(f"{url}{separator}api-version={API_VERSION}", data=data, method=method,
                                  headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(http, timeout=60) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")[:300]
        raise Failure(f"{method} {url} answered {error.code}: {detail}") from None
    except urllib.error.URLError as error:
        raise Failure(f"{method} {url} failed: {error.reason}") from None


def ensure_pull_request(base: str, branch: str, title: str, description: str) -> dict[str, Any]:
    """The active pull request from ``branch`` into main (created when there is none), set to auto-complete."""
    query = urllib.parse.urlencode({
        "searchCriteria.sourceRefName": f"refs/heads/{branch}",
        "searchCriteria.targetRefName": f"refs/heads/{MAIN}",
        "searchCriteria.status": "active",
    })
    found = request("GET", f"{base}/pullrequests?{query}").get("value") or []
    if found:
        pull = found[0]
        log(f"Reusing pull request {pull['pullRequestId']} of {branch}.")
    else:
        pull = request("POST", f"{base}/pullrequests", {
            "sourceRefName": f"refs/heads/{branch}", "targetRefName": f"refs/heads/{MAIN}",
            "title": title, "description": description,
        })
        log(f"Created pull request {pull['pullRequestId']} from {branch} into {MAIN}.")
    request("PATCH", f"{base}/pullrequests/{pull['pullRequestId']}", {
        "autoCompleteSetBy": {"id": pull["createdBy"]["id"]},
        "completionOptions": {"deleteSourceBranch": True, "mergeStrategy": "squash",
                              "mergeCommitMessage": title, "transitionWorkItems": False},
    })
    return pull


def pause(attempt: int, base_seconds: float) -> None:
    delay = base_seconds * attempt + random.uniform(0, base_seconds * attempt)
    log(f"Retrying on a fresh {MAIN} in {delay:.1f} s.")
    time.sleep(delay)


def remote_branch(branch: str) -> str:
    """The sha of ``branch`` on origin, or '' when it does not exist."""
    out = git("ls-remote", "--heads", "origin", f"refs/heads/{branch}").stdout.split()
    return out[0] if out else ""


def reset_to_main() -> None:
    git("fetch", "--quiet", "origin", f"+refs/heads/{MAIN}:refs/remotes/origin/{MAIN}")
    git("reset", "--quiet", "--hard", f"origin/{MAIN}")


def run_infra(infra: str, *args: str) -> None:
    result = subprocess.run([infra, "versions", *args], capture_output=True, text=True, check=False)
    for line in (result.stdout + result.stderr).splitlines():
        log(f"  {line}")
    if result.returncode != 0:
        raise Failure(f"infra versions {' '.join(args)} failed (exit {result.returncode}); see above")


def changed() -> bool:
    return git("diff", "--quiet", "--", "versions/", check=False).returncode != 0


def commit_and_push(branch: str, lease: str, subject: str, body: str) -> bool:
    git("add", "--", "versions/")
    git("commit", "--quiet", "-m", subject, "-m", body)
    pushed = git("push", "--quiet", f"--force-with-lease=refs/heads/{branch}:{lease}", "origin",
                 f"HEAD:refs/heads/{branch}", check=False)
    if pushed.returncode != 0:
        log(f"Push of {branch} refused: {(pushed.stderr or pushed.stdout).strip()}")
    return pushed.returncode == 0


def branch_records_newer(branch: str, component: str, version: str) -> str | None:
    """The version the open bump branch already records for ``component``, when it is not older than ours."""
    import yaml

    from infra.versions.model import version_key  # the platform's own semver order

    shown = git("show", f"origin/{branch}:versions/catalog.yaml", check=False)
    if shown.returncode != 0:
        return None
    recorded = ((yaml.safe_load(shown.stdout) or {}).get("components") or {}).get(component) or {}
    other = str(recorded.get("version") or "")
    try:
        return other if other and version_key(other) >= version_key(version) else None
    except ValueError:
        return None


def bump(args: argparse.Namespace) -> int:
    branch = f"versions/bump-{args.component}"
    source = os.environ.get("RECORD_VERSIONS_SOURCE", "")
    for attempt in range(1, args.attempts + 1):
        lease = remote_branch(branch)
        if lease:
            git("fetch", "--quiet", "origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}")
            newer = branch_records_newer(branch, args.component, args.version)
            if newer is not None:
                log(f"##vso[task.logissue type=warning]{branch} already records {args.component} {newer} "
                    f"(not older than {args.version}); nothing to record")
                return 0
        reset_to_main()
        run_infra(args.infra, "bump", args.component, args.version)
        if not changed():
            log(f"##vso[task.logissue type=warning]{MAIN} already records {args.component} {args.version} or "
                "newer; nothing to record")
            return 0
        subject = f"Bump {args.component} to {args.version}"
        if commit_and_push(branch, lease, subject, source or "Recorded by the service pipeline."):
            pull = ensure_pull_request(args.api, branch, subject, source or subject)
            log(f"Recorded {args.component} {args.version}: pull request {pull['pullRequestId']} completes "
                f"itself when its checks pass (attempt {attempt}).")
            return 0
        if attempt < args.attempts:
            pause(attempt, args.backoff)
    raise Failure(f"could not record {args.component} {args.version} after {args.attempts} attempts: {branch} "
                  "kept moving, or the build identity lacks Contribute on the platform repository")


def wait_for(base: str, pull_id: int, deadline: float, poll: float) -> dict[str, Any] | None:
    """The pull request once it completed; None when it conflicts (re-resolve); fails when abandoned or late."""
    while True:
        pull = request("GET", f"{base}/pullrequests/{pull_id}")
        status, merge = pull.get("status"), pull.get("mergeStatus")
        if status == "completed":
            return pull
        if status == "abandoned":
            raise Failure(f"pull request {pull_id} was abandoned; staging was not re-resolved")
        if merge == "conflicts":
            log(f"Pull request {pull_id} conflicts with {MAIN}.")
            return None
        if time.monotonic() > deadline:
            raise Failure(f"pull request {pull_id} did not complete in time (status {status}, merge {merge}): "
                          "see its checks; deploy with versions=as-committed once it is merged")
        time.sleep(poll)


def release_staging(args: argparse.Namespace) -> int:
    branch = "versions/release-staging"
    source = os.environ.get("RECORD_VERSIONS_SOURCE", "")
    deadline = time.monotonic() + args.wait_minutes * 60
    for attempt in range(1, args.attempts + 1):
        lease = remote_branch(branch)
        reset_to_main()
        run_infra(args.infra, "release", "staging")
        if not changed():
            log(f"Staging's versions are already what the catalog resolves to; deploying {MAIN} at "
                f"{git('rev-parse', '--short', 'HEAD').stdout.strip()}.")
            return 0
        subject = "Release staging: re-resolve component versions"
        if commit_and_push(branch, lease, subject, source or subject):
            pull = ensure_pull_request(args.api, branch, subject, source or subject)
            merged = wait_for(args.api, pull["pullRequestId"], deadline, args.poll)
            if merged is not None:
                commit = merged["lastMergeCommit"]["commitId"]
                reset_to_main()
                if git("merge-base", "--is-ancestor", commit, f"origin/{MAIN}", check=False).returncode != 0:
                    raise Failure(f"the merge commit {commit} of pull request {pull['pullRequestId']} is not on "
                                  f"{MAIN}")
                git("checkout", "--quiet", "--detach", commit)
                log("##vso[build.addbuildtag]versions-re-resolved")
                log(f"Pull request {pull['pullRequestId']} completed; deploying {MAIN} at {commit}.")
                return 0
        if attempt < args.attempts:
            pause(attempt, args.backoff)
    raise Failure(f"could not re-resolve staging's versions after {args.attempts} attempts: {branch} kept "
                  "moving or kept conflicting with main")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=5)
    parser.add_argument("--backoff", type=float, default=float(os.environ.get("RECORD_VERSIONS_BACKOFF", "5")),
                        help="seconds; attempt n waits n*backoff plus up to as much jitter")
    parser.add_argument("--infra", default=str(Path(".venv/bin/infra")), help="the infra console script")
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("bump")
    one.add_argument("component")
    one.add_argument("version")
    staging = sub.add_parser("release-staging")
    staging.add_argument("--wait-minutes", type=float, default=45)
    staging.add_argument("--poll", type=float, default=float(os.environ.get("RECORD_VERSIONS_POLL", "30")))
    args = parser.parse_args(argv)
    try:
        args.api = api_base()
        return bump(args) if args.command == "bump" else release_staging(args)
    except Failure as error:
        log(f"##vso[task.logissue type=error]{error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
