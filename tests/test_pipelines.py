"""The Azure Pipelines of this repository (docs/pipelines.md): schema, templates, apply safety, coverage.

Files that use template expressions are schema-checked in their expanded form, for every value their runtime
parameters allow (tests/pipelines_helpers.py models the expansion and refuses what it does not model).
"""

from __future__ import annotations

import copy
import hashlib
import http.server
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import zipfile
from pathlib import Path

import pytest

from tests.pipelines_helpers import (
    ANY_MACRO,
    KUBELOGIN_PIPELINE_ENV,
    REPO_ROOT,
    ROOT_PIPELINES,
    SERVICE_CONSUMER,
    SHA256,
    TEMPLATES_DIR,
    Expander,
    ExpansionError,
    all_pipeline_files,
    apply_problems,
    condition_holds,
    connection_step,
    coverage_problems,
    declared_parameters,
    evaluate,
    has_template_expressions,
    helm_login_problems,
    identity_problems,
    job_steps,
    kubeconfig_problems,
    kubelogin_problems,
    load_yaml,
    missing_schema,
    raw_script_expression_problems,
    reachable_steps,
    reference_problems,
    rel,
    run_inline_script,
    runtime_combinations,
    schema_problems,
    script_macro_problems,
    setvariable_problems,
    step_script,
    targeted_environments,
    template_kind,
    terraform_jobs,
    terraform_steps,
    walk_jobs,
)

CASES = [(p, combo) for p in ROOT_PIPELINES for combo in runtime_combinations(REPO_ROOT / p)]


def _case_id(case: tuple[str, dict]) -> str:
    path, combo = case
    return f"{path}[{','.join(f'{k}={v}' for k, v in combo.items())}]"


def _expand(path: str, combo: dict) -> tuple[dict, Expander]:
    expander = Expander()
    return expander.expand_pipeline(REPO_ROOT / path, combo), expander


def _expand_service() -> tuple[dict, Expander]:
    expander = Expander(aliases={"self": REPO_ROOT, "platform": REPO_ROOT})
    return expander.expand_root(
        copy.deepcopy(SERVICE_CONSUMER), REPO_ROOT / "service-repo/azure-pipelines.yml", {}
    ), expander


@pytest.fixture(scope="module")
def expansions() -> dict[str, tuple[dict, Expander]]:
    out = {_case_id(case): _expand(*case) for case in CASES}
    out["service-build (example consumer)"] = _expand_service()
    return out


@pytest.fixture(scope="module")
def app_targets() -> set[str]:
    from infra.app import pipeline_targets

    return set(pipeline_targets())


def needs_schema() -> None:
    """The schema tests need the Azure Pipelines schema. Locally without it they skip, saying why; in a
    pipeline (TF_BUILD set) they fail: the build stage fetches it (issue: 35 tests skipped on every agent)."""
    missing = missing_schema()
    if missing is None:
        return
    outcome, reason = missing
    if outcome == "fail":
        pytest.fail(reason)
    pytest.skip(reason)


# --------------------------------------------------------------------------------------------- schema
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_every_expanded_pipeline_validates_against_the_schema(case):
    needs_schema()
    pipeline, expander = _expand(*case)
    problems = schema_problems(pipeline, _case_id(case))
    for instance in expander.instances:
        problems += schema_problems(
            instance.body, f"{rel(instance.path)} in {_case_id(case)}", template_kind(instance.body)
        )
    assert problems == []


def test_service_build_template_validates_when_a_service_extends_it():
    needs_schema()
    pipeline, expander = _expand_service()
    problems = schema_problems(pipeline, "service pipeline")
    for instance in expander.instances:
        problems += schema_problems(instance.body, rel(instance.path), template_kind(instance.body))
    assert problems == []
    assert any(i.path.name == "service-build.yml" for i in expander.instances)


@pytest.mark.parametrize("path", all_pipeline_files(), ids=lambda p: rel(p))
def test_every_file_is_schema_checked_raw_or_expanded(path, expansions):
    """A file without template expressions validates as written; one with them is validated expanded, so it
    must be used by at least one expanded pipeline (the root pipelines are expanded by definition)."""
    needs_schema()
    document = load_yaml(path)
    if not has_template_expressions(document):
        kind = template_kind(document) if TEMPLATES_DIR in path.parents else None
        assert schema_problems(document, rel(path), kind) == []
    elif rel(path) not in ROOT_PIPELINES:
        used = {i.path for _, expander in expansions.values() for i in expander.instances}
        assert path.resolve() in used, f"{rel(path)} uses template expressions but no pipeline expands it"


def test_every_template_is_used_by_a_pipeline(expansions):
    used = {i.path for _, expander in expansions.values() for i in expander.instances}
    unused = [rel(p) for p in TEMPLATES_DIR.rglob("*.yml") if p.resolve() not in used]
    assert unused == [], "templates no pipeline uses (delete them or use them)"


# --------------------------------------------------------------------------------------------- references
@pytest.mark.parametrize("path", all_pipeline_files(), ids=lambda p: rel(p))
def test_template_references_resolve_and_pass_exactly_the_declared_parameters(path):
    assert reference_problems(load_yaml(path), path) == []


def test_required_template_parameters_say_so():
    """A parameter without a default is required: its displayName says so (the UKHO convention)."""
    missing = []
    for path in TEMPLATES_DIR.rglob("*.yml"):
        for param in declared_parameters(load_yaml(path), rel(path)):
            if (
                not param.has_default
                and "required" not in (_display_name(path, param.name) or "").lower()
                and param.type != "boolean"
            ):
                missing.append(f"{rel(path)}: {param.name}")
    assert missing == []


def _display_name(path: Path, name: str) -> str | None:
    for item in load_yaml(path).get("parameters") or []:
        if item.get("name") == name:
            return item.get("displayName")
    return None


# --------------------------------------------------------------------------------------------- applies
def test_every_apply_is_a_deployment_job_that_downloads_instead_of_synthesizing(expansions):
    problems, applies = [], 0
    for name, (pipeline, _) in expansions.items():
        problems += apply_problems(pipeline, name)
        applies += len(targeted_environments(pipeline).get("apply", ()))
    assert problems == []
    deploying = [c for c in runtime_combinations(REPO_ROOT / "pipelines/release.yml")
                 if c["environment"] != RELEASE_SENTINEL]
    assert applies >= 1 + len(deploying)


def test_apply_waits_for_its_plan_and_never_runs_for_pull_requests(expansions):
    for name, (pipeline, _) in expansions.items():
        for stage in pipeline.get("stages") or []:
            if not any("deployment" in job for job in stage.get("jobs") or []):
                continue
            condition = " ".join(stage.get("condition", "").split())
            assert "ne(variables['Build.Reason'], 'PullRequest')" in condition, name
            assert f"dependencies.{stage['dependsOn']}.outputs['plan.terraform.changes']" in condition, name
            assert stage["dependsOn"].startswith("plan_"), name


def test_synthesis_happens_once_per_run(expansions):
    for name, (pipeline, _) in expansions.items():
        if name.startswith("service-build") or f"environment={RELEASE_SENTINEL}" in name:
            continue
        synths = [
            step
            for _, job in walk_jobs(pipeline)
            for step in job_steps(job)
            if "make synth" in step_script(step)
        ]
        assert len(synths) == 1, name


def test_the_one_synth_builds_exactly_the_stacks_the_run_deploys(expansions, app_targets):
    """Issue 15: a run that plans one environment synthesizes only that stack (INFRA_STACKS through the synth
    step's env:, which keeps case), so a company with hundreds of environments does not build them all to deploy
    one; a run that covers every environment (drift) selects nothing, which means every stack."""
    checked = 0
    for name, (pipeline, _) in expansions.items():
        if name.startswith("service-build") or f"environment={RELEASE_SENTINEL}" in name:
            continue
        steps = [step for _, job in walk_jobs(pipeline) for step in job_steps(job)]
        (synth,) = [step for step in steps if "make synth" in step_script(step)]
        selected = str((synth.get("env") or {}).get("INFRA_STACKS", "")).replace(",", " ").split()
        deployed = {str(step["env"]["TF_ENVIRONMENT"]) for step in steps
                    if "TF_ENVIRONMENT" in (step.get("env") or {})}
        assert deployed, name
        if deployed == app_targets:
            assert selected in ([], sorted(app_targets)), f"{name}: selects {selected}"
        else:
            assert sorted(selected) == sorted(deployed), f"{name}: synthesizes {selected or 'every stack'}, " \
                                                         f"deploys {sorted(deployed)}"
        checked += 1
    assert checked >= 3


# --------------------------------------------------------------------------------------------- coverage
def test_pipeline_targets_are_the_stacks_but_bootstrap(app_targets):
    from infra.app import stack_names

    assert app_targets == set(stack_names()) - {"bootstrap"}


RELEASE_SENTINEL = "choose-an-environment"


def test_release_can_deploy_exactly_the_pipeline_targets(app_targets):
    params = {
        p.name: p for p in declared_parameters(load_yaml(REPO_ROOT / "pipelines/release.yml"), "release")
    }
    values = list(params["environment"].values)
    assert (
        coverage_problems(set(values) - {RELEASE_SENTINEL}, app_targets, "release.yml environment values")
        == []
    )
    assert not params["environment"].has_default, "the environment to deploy must be chosen, never defaulted"


def test_drift_checks_exactly_the_pipeline_targets(expansions, app_targets):
    for name, (pipeline, _) in expansions.items():
        if name.startswith("pipelines/drift.yml"):
            found = targeted_environments(pipeline)
            assert set(found) == {"drift"}, f"{name} must only detect drift, found {sorted(found)}"
            assert coverage_problems(found["drift"], app_targets, name) == []


def test_every_environment_the_pipelines_can_target_is_a_pipeline_target(expansions, app_targets):
    targets: set[str] = set()
    for pipeline, _ in expansions.values():
        for names in targeted_environments(pipeline).values():
            targets |= names
    assert coverage_problems(targets, app_targets, "all pipelines") == []


def test_ci_deploys_dev_on_push_to_main_and_only_plans_pull_requests(expansions):
    raw = load_yaml(REPO_ROOT / "azure-pipelines.yml")
    assert raw["trigger"]["branches"]["include"] == ["main"]
    assert raw["pr"]["branches"]["include"] == ["main"]
    pipeline, _ = expansions["azure-pipelines.yml[]"]
    assert targeted_environments(pipeline) == {"plan": {"dev"}, "apply": {"dev"}, "deployment": {"dev"}}
    apply_stage = next(s for s in pipeline["stages"] if s["stage"] == "apply_dev")
    assert "eq(variables['Build.SourceBranch'], 'refs/heads/main')" in apply_stage["condition"]


def test_release_is_manual_with_allowlisted_runtime_parameters():
    raw = load_yaml(REPO_ROOT / "pipelines/release.yml")
    assert raw["trigger"] == "none" and raw["pr"] == "none"
    for param in declared_parameters(raw, "release.yml"):
        assert param.type == "boolean" or param.values, (
            f"runtime parameter {param.name} needs a values: allowlist"
        )


def test_drift_runs_on_a_schedule_with_detailed_exitcode_and_never_applies(expansions):
    raw = load_yaml(REPO_ROOT / "pipelines/drift.yml")
    assert raw["trigger"] == "none" and raw["pr"] == "none" and raw["schedules"]
    pipeline, _ = expansions["pipelines/drift.yml[onDrift=fail]"]
    assert not any("deployment" in job for _, job in walk_jobs(pipeline))
    for _job, step in terraform_steps(pipeline):
        assert "-detailed-exitcode" in step_script(step)


def test_kubeconfig_environments_are_the_external_clusters():
    from infra.registry import load_registry

    external = {e.name for e in load_registry().environments if e.kind == "external"}
    params = declared_parameters(load_yaml(TEMPLATES_DIR / "steps/terraform.yml"), "terraform.yml")
    assert set(next(p.default for p in params if p.name == "kubeconfigEnvironments")) == external



# --------------------------------------------------------------------------------------------- cluster access
ACTIONS = {"plan", "apply", "drift"}


def _jobs_by_environment(expansions) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for pipeline, _ in expansions.values():
        for environment, action, _before, _step in terraform_jobs(pipeline):
            found.setdefault(environment, set()).add(action)
    return found


def _kubeconfig_variable(stack: dict) -> str:
    """The Terraform variable both Kubernetes providers of a kubeconfig stack take their config_path from."""
    paths = {stack["provider"]["kubernetes"][0]["config_path"],
             stack["provider"]["helm"][0]["kubernetes"]["config_path"]}
    assert len(paths) == 1, f"the kubernetes and helm providers read different kubeconfigs: {sorted(paths)}"
    match = re.fullmatch(r"\$\{var\.([A-Za-z_][A-Za-z0-9_]*)\}", paths.pop())
    assert match, "an external stack's kubeconfig path must be a Terraform variable"
    assert match.group(1) in stack.get("variable", {}), f"variable {match.group(1)} is not declared"
    return match.group(1)


def _oci_registries(stack: dict) -> set[str]:
    return {
        value.removeprefix("oci://").split("/")[0]
        for release in stack.get("resource", {}).get("helm_release", {}).values()
        for value in (release.get("repository") or "", release.get("chart") or "")
        if value.startswith("oci://")
    }


def test_external_environments_hand_terraform_their_kubeconfig(expansions, synthesized):
    """The stack's providers take config_path = var.<name> (which wins over KUBE_CONFIG_PATH), so every
    job that runs Terraform for an external environment exports TF_VAR_<name> = the downloaded, private
    secure file."""
    from infra.registry import load_registry

    external = {e.name for e in load_registry().environments if e.kind == "external"}
    assert external, "no external environment to check"
    variables = {name: _kubeconfig_variable(synthesized.stacks[name]) for name in sorted(external)}
    covered = _jobs_by_environment(expansions)
    problems = []
    for name in sorted(external):
        if covered.get(name, set()) != ACTIONS:
            problems.append(
                f"{name}: pipelines run {sorted(covered.get(name, set()))}, expected plan, apply, drift"
            )
    for case, (pipeline, _) in expansions.items():
        problems += kubeconfig_problems(pipeline, case, variables)
    assert problems == []


def test_every_terraform_job_installs_a_pinned_kubelogin_before_terraform(expansions):
    problems, jobs = [], 0
    for case, (pipeline, _) in expansions.items():
        problems += kubelogin_problems(pipeline, case)
        jobs += len(list(terraform_jobs(pipeline)))
    assert problems == []
    assert jobs >= 3


def test_helm_logs_in_to_the_chart_registries_before_terraform(expansions, synthesized):
    with_oci = {name for name, stack in synthesized.stacks.items() if _oci_registries(stack)}
    assert "dev" in with_oci, "dev deploys the product services from its ACR"
    covered = _jobs_by_environment(expansions)
    problems = [
        f"{name}: pipelines run {sorted(covered.get(name, set()))}, expected plan, apply, drift"
        for name in sorted(with_oci - {"bootstrap"})
        if covered.get(name, set()) != ACTIONS
    ]
    for case, (pipeline, _) in expansions.items():
        problems += helm_login_problems(pipeline, case, with_oci)
    assert problems == []


def _helm_login_step() -> dict:
    pipeline = Expander().expand_pipeline(REPO_ROOT / "azure-pipelines.yml", {})
    _env, _action, before, _step = next(terraform_jobs(pipeline))
    return next(s for s in before if s.get("name") == "helmRegistryLogin")


def _run_helm_login(synthesized, tmp_path: Path, environment: str, missing: str = "") -> tuple[object, str]:
    """Runs the helm login step's script for one synthesized stack, with `az` and `helm` stubs that record
    their arguments (and what helm reads on stdin)."""
    work, bin_dir, calls = tmp_path / "work", tmp_path / "bin", tmp_path / "calls.log"
    work.mkdir(parents=True)
    bin_dir.mkdir(parents=True)
    (work / "cdktf.out").symlink_to(synthesized.outdir)
    (bin_dir / "az").write_text(
        "#!/bin/bash\n"
        'echo "az $*" >> "$CALLS"\n'
        'if [ "$1 $2" = "acr show" ] && [ "$4" = "$AZ_MISSING" ]; then\n'
        "  echo \"ERROR: The Resource 'Microsoft.ContainerRegistry/registries/$4' could not be found.\" >&2\n"
        "  exit 3\n"
        "fi\n"
        'if [ "$1 $2" = "acr login" ]; then echo "token-of-$4"; fi\n'
    )
    (bin_dir / "helm").write_text('#!/bin/bash\necho "helm $* stdin=$(cat)" >> "$CALLS"\n')
    for stub in bin_dir.iterdir():
        stub.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "CALLS": str(calls),
        "AZ_MISSING": missing,
        "STACK_ENVIRONMENT": environment,
        "HELM_REGISTRY_CONFIG": "/elsewhere/config.json",
    }
    macros = {"System.DefaultWorkingDirectory": str(work), "Agent.TempDirectory": str(tmp_path / "agent-tmp")}
    result = run_inline_script(_helm_login_step(), macros, env)
    return result, calls.read_text() if calls.exists() else ""


def test_helm_login_script_logs_in_to_exactly_the_stacks_registries(synthesized, tmp_path):
    registries = _oci_registries(synthesized.stacks["dev"])
    assert registries and all(host.endswith(".azurecr.io") for host in registries)
    result, calls = _run_helm_login(synthesized, tmp_path, "dev")
    assert result.returncode == 0, result.stdout + result.stderr
    helm_home = tmp_path / "agent-tmp" / "helm-config"
    assert f"##vso[task.setvariable variable=HELM_CONFIG_HOME]{helm_home}" in result.stdout
    assert oct(helm_home.stat().st_mode & 0o777) == oct(0o700)
    expected = []
    for host in sorted(registries):
        name = host.removesuffix(".azurecr.io")
        expected += [
            f"az acr show --name {name} --query id --output none",
            f"az acr login --name {name} --expose-token --output tsv --query accessToken --only-show-errors",
            f"helm registry login {host} --username 00000000-0000-0000-0000-000000000000 --password-stdin"
            f" stdin=token-of-{name}",
        ]
    assert calls.splitlines() == expected


def test_helm_login_script_warns_for_a_registry_not_created_yet_and_for_a_foreign_mirror(
    synthesized, tmp_path
):
    (name,) = {h.removesuffix(".azurecr.io") for h in _oci_registries(synthesized.stacks["dev"])}
    result, calls = _run_helm_login(synthesized, tmp_path / "new", "dev", missing=name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"##vso[task.logissue type=warning]registry {name} does not exist yet" in result.stdout
    assert "helm registry login" not in calls

    mirror = _oci_registries(synthesized.stacks["onprem"])
    assert mirror and not any(h.endswith(".azurecr.io") for h in mirror)
    result, calls = _run_helm_login(synthesized, tmp_path / "onprem", "onprem")
    assert result.returncode == 0, result.stdout + result.stderr
    assert calls == ""
    for host in mirror:
        assert f"##vso[task.logissue type=warning]{host} is not an Azure Container Registry" in result.stdout


def test_helm_login_script_fails_when_a_registry_cannot_be_read(synthesized, tmp_path):
    result, _ = _run_helm_login(synthesized, tmp_path, "no-such-stack")
    assert result.returncode == 1
    expected = "##vso[task.logissue type=error]no synthesized stack at cdktf.out/stacks/no-such-stack"
    assert expected in result.stdout


# --------------------------------------------------------------------------------------------- identity
def test_terraform_runs_as_the_environments_federated_service_connection(expansions):
    problems = []
    for name, (pipeline, _) in expansions.items():
        problems += identity_problems(pipeline, name)
    assert problems == []



def test_terraform_runs_without_azurerm_enhanced_validation_which_the_stacks_do_not_need(expansions, synthesized):
    """azurerm's enhanced validation (on unless ARM_PROVIDER_ENHANCED_VALIDATION=false) makes every azurerm
    provider list its subscription's resource providers when it is configured, even with
    resource_provider_registrations = "none", and a 403 there is fatal (hashicorp/terraform-provider-azurerm
    v4.55.0 internal/resourceproviders/registration.go:27-35, cache.go:52); in the parent zone's subscription the
    pipeline identity has only DNS Zone Contributor on one NS record set. What else it validates the stacks do not
    need: nothing is registered or named for registration (the provider list's other use), and every location is
    one of the regions the environment definitions allow (what the Azure location list would have checked)."""
    from building_blocks.naming import REGION_CODES

    steps = [(case, step) for case, (pipeline, _) in expansions.items() for _job, step in terraform_steps(pipeline)]
    assert len(steps) > len(CASES)
    for case, step in steps:
        assert (step.get("env") or {}).get("ARM_PROVIDER_ENHANCED_VALIDATION") == "false", (case, step["displayName"])
    for name, stack in synthesized.stacks.items():
        providers = stack["provider"]["azurerm"]
        assert [p.get("resource_provider_registrations") for p in providers] == ["none"] * len(providers), name
        assert not any(p.get("resource_providers_to_register") for p in providers), name
        assert "azurerm_resource_provider_registration" not in stack.get("resource", {}), name
        locations = [(f"{kind}.{type_}.{key}", body["location"]) for kind in ("resource", "data")
                     for type_, items in stack.get(kind, {}).items() if type_.startswith("azurerm_")
                     for key, body in items.items() if "location" in body]
        assert locations, name
        assert [(where, location) for where, location in locations if location not in REGION_CODES] == [], name
    # The roles docs say the same: no role in the parent zone's subscription for the provider list.
    security = (REPO_ROOT / "docs/security.md").read_text(encoding="utf-8")
    assert "ARM_PROVIDER_ENHANCED_VALIDATION=false" in security and "subscriptions/providers/read" not in security

def test_service_build_records_versions_only_from_main_and_never_for_pull_requests(expansions):
    pipeline, _ = expansions["service-build (example consumer)"]
    pr = {"Build.Reason": "PullRequest", "Build.SourceBranch": "refs/pull/7/merge"}
    push = {"Build.Reason": "IndividualCI", "Build.SourceBranch": "refs/heads/main"}
    feature = {"Build.Reason": "IndividualCI", "Build.SourceBranch": "refs/heads/feature"}

    def records(variables):
        return [s for _st, _j, s in reachable_steps(pipeline, variables)
                if "pipelines/scripts/record_versions.py bump" in step_script(s)]

    assert records(pr) == [] and records(feature) == []
    (step,) = records(push)
    assert step["env"]["SYSTEM_ACCESSTOKEN"] == "$(System.AccessToken)"
    scripts = "\n".join(step_script(s) for _, job in walk_jobs(pipeline) for s in job_steps(job))
    assert "make test" in scripts  # the service's own test steps were spliced in


# ------------------------------------------------------------------------------------------ the checkers fail
def test_schema_check_reports_an_alias_input_and_a_raw_if_key():
    needs_schema()
    bad = {"steps": [{"task": "DownloadPipelineArtifact@2", "inputs": {"artifact": "x", "path": "y"}}]}
    assert schema_problems(bad, "bad") != []
    raw_if = {"steps": [{"${{ if eq(parameters.a, 'b') }}": [{"script": "echo"}]}]}
    assert schema_problems(raw_if, "raw-if") != []
    assert schema_problems({"steps": [{"script": "echo"}]}, "good") == []


def test_reference_check_reports_missing_file_missing_and_unknown_parameters_and_bad_values(tmp_path):
    template = tmp_path / "t.yml"
    template.write_text(
        "parameters:\n  - name: environment\n    type: string\n"
        "  - name: action\n    type: string\n    default: plan\n    values: [plan, apply]\n"
        "steps:\n  - script: echo\n"
    )
    caller = tmp_path / "caller.yml"
    document = {
        "steps": [
            {"template": "missing.yml"},
            {"template": "t.yml", "parameters": {"action": "plan"}},
            {"template": "t.yml", "parameters": {"environment": "dev", "colour": "red"}},
            {"template": "t.yml", "parameters": {"environment": "dev", "action": "destroy"}},
            {"template": "t.yml", "parameters": {"environment": "dev"}},
        ]
    }
    problems = reference_problems(document, caller)
    assert any("no such file" in p for p in problems)
    assert any("required parameter 'environment' is not passed" in p for p in problems)
    assert any("unknown parameter 'colour'" in p for p in problems)
    assert any("'destroy', allowed: plan, apply" in p for p in problems)
    assert len(problems) == 4


def test_expander_refuses_bad_parameters_and_unknown_functions(tmp_path):
    (tmp_path / "t.yml").write_text(
        "parameters:\n  - name: enabled\n    type: boolean\nsteps:\n  - script: echo\n"
    )
    with pytest.raises(ExpansionError, match="must be a boolean"):
        Expander().expand_root(
            {"steps": [{"template": "t.yml", "parameters": {"enabled": "maybe"}}]}, tmp_path / "p.yml", {}
        )
    with pytest.raises(ExpansionError, match="not supported"):
        evaluate("frobnicate(1)", {})


def test_expander_models_if_else_each_and_splices():
    document = {
        "steps": [
            {
                "${{ if eq(parameters.env, 'ONPREM') }}": [{"script": "kube"}],
                "${{ else }}": [{"script": "aks"}],
            },
            {"${{ each name in parameters.names }}": [{"script": "echo ${{ replace(name, '-', '_') }}"}]},
            "${{ parameters.extra }}",
        ]
    }
    expander = Expander()
    expander_context = {"parameters": {"env": "onprem", "names": ["a-b", "c"], "extra": [{"script": "x"}]}}
    steps = expander.node(document, expander_context, REPO_ROOT / "x.yml")["steps"]
    assert [s["script"] for s in steps] == ["kube", "echo a_b", "echo c", "x"]


def test_apply_check_reports_a_plain_job_without_environment_that_synthesizes():
    pipeline = {
        "stages": [
            {
                "stage": "apply",
                "jobs": [
                    {
                        "job": "apply",
                        "steps": [
                            {"script": "make synth"},
                            {"script": "cd cdktf.out/stacks/dev && terraform apply -auto-approve"},
                        ],
                    }
                ],
            }
        ]
    }
    problems = apply_problems(pipeline, "bad")
    assert any("not a deployment job" in p for p in problems)
    assert any("without an Azure DevOps environment" in p for p in problems)
    assert any("lockBehavior: sequential" in p for p in problems)
    assert any("re-synthesizes" in p for p in problems)
    assert any("must download" in p for p in problems)


def test_coverage_check_reports_an_environment_without_pipeline_coverage():
    problems = coverage_problems({"dev", "staging"}, {"dev", "staging", "production-sea"}, "pipelines")
    assert problems == [
        "pipelines: environment 'production-sea' is a stack of the app but no pipeline path targets it"
    ]
    assert coverage_problems({"dev", "bootstrap"}, {"dev"}, "p") == [
        "p: targets 'bootstrap', which is not a pipeline target of the app"
    ]


def _bare_terraform(environment: str, **env) -> dict:
    return {"bash": "terraform plan", "name": "terraform",
            "env": {"TF_ENVIRONMENT": environment, "TF_ACTION": "plan", **env}}


def test_identity_check_reports_a_wrong_connection_a_cli_login_and_a_secret():
    connection = {"task": "AzureCLI@2", "name": "connection", "inputs": {"azureSubscription": "shared"}}
    step = _bare_terraform("dev", ARM_USE_CLI="true", ARM_CLIENT_SECRET="$(secret)")
    problems = identity_problems({"jobs": [{"job": "j", "steps": [connection, step]}]}, "bad")
    assert "bad: plan dev must use service connection azure-platform-dev, got 'shared'" in problems
    assert "bad: plan dev: the Terraform step's env ARM_USE_OIDC must be 'true', got None" in problems
    assert "bad: plan dev: the Terraform step's env ARM_USE_CLI must be 'false', got 'true'" in problems
    assert any("ARM_CLIENT_SECRET is set to a value" in p for p in problems)
    alone = identity_problems({"jobs": [{"job": "j", "steps": [_bare_terraform("dev")]}]}, "bad")
    assert "bad: plan dev runs Terraform without resolving its service connection first" in alone


def test_cluster_access_checks_report_a_job_without_kubelogin_kubeconfig_or_helm_login():
    terraform = _bare_terraform("onprem")
    bare = {"jobs": [{"job": "plan", "steps": [{"script": "tar -xzf cdktf.out.tar.gz"}, terraform]}]}
    assert kubelogin_problems(bare, "bad")[0] == "bad: plan onprem runs Terraform without installing kubelogin first"
    assert kubeconfig_problems(bare, "bad", {"onprem": "kubeconfig_path"}) == [
        "bad: plan onprem does not download secure file kubeconfig-onprem"
    ]
    assert helm_login_problems(bare, "bad", {"onprem"}) == [
        "bad: plan onprem runs Terraform without logging helm in to its chart registries"
    ]
    # The old pipelines: KubeloginInstaller@0, the kubeconfig through setvariable, a CLI-session kubelogin.
    old_style = {
        "jobs": [
            {
                "job": "plan",
                "steps": [
                    {"task": "KubeloginInstaller@0", "inputs": {"kubeloginVersion": "v0.2.19"}},
                    {"task": "DownloadSecureFile@1", "name": "kc",
                     "inputs": {"secureFile": "kubeconfig-onprem"}},
                    {"bash": 'chmod 600 "$(kc.secureFilePath)"\n'
                             'echo "##vso[task.setvariable variable=TF_VAR_kubeconfig_path]$(kc.secureFilePath)"'},
                    {"task": "AzureCLI@2",
                     "inputs": {"azureSubscription": "shared",
                                "inlineScript": "az acr login -n x | helm registry login x"}},
                    {"script": "tar -xzf cdktf.out.tar.gz"},
                    terraform,
                ],
            }
        ]
    }
    problems = kubelogin_problems(old_style, "old")
    assert "old: plan onprem installs kubelogin with KubeloginInstaller (no checksum)" in problems
    assert "old: plan onprem runs Terraform without installing kubelogin first" in problems
    assert kubeconfig_problems(old_style, "old", {"onprem": "kubeconfig_path"}) == [
        "old: plan onprem does not chmod 600 the kubeconfig",
        "old: plan onprem: the Terraform step's env does not map TF_VAR_kubeconfig_path to the kubeconfig",
    ]
    assert setvariable_problems(old_style, "old") == [
        "old: step None sets TF_VAR_kubeconfig_path through setvariable, which upper-cases it; pass it through "
        "the step's env: instead"
    ]
    unpinned = {"jobs": [{"job": "plan", "steps": [
        {"bash": "curl kubelogin", "env": {"KUBELOGIN_VERSION": "latest", "KUBELOGIN_SHA256": ""}}, terraform]}]}
    problems = kubelogin_problems(unpinned, "loose")
    assert "loose: plan onprem installs kubelogin 'latest'; pin an exact release" in problems
    assert "loose: plan onprem installs kubelogin without a pinned SHA-256" in problems
    assert "loose: plan onprem: the kubelogin installer does not compare the zip's SHA-256" in problems
    assert ("loose: plan onprem: kubelogin needs env TF_VAR_kubelogin_login_mode = 'azurepipelines', got None"
            in problems)
    problems = helm_login_problems(old_style, "old", {"onprem"})
    assert "old: plan onprem: the helm login must run in AzureCLI@2 as azure-platform-onprem" in problems
    assert "old: plan onprem: the helm login lacks --expose-token" in problems
    assert "old: plan onprem: the helm login runs before the synthesized stacks are unpacked" in problems
    assert "old: plan onprem: the Terraform step may read another helm registry config" in problems


# ============================================================================ issue 13 / 17: real Azure DevOps
# Each test below fails on the pipelines before these changes (see docs/pipelines.md "Tests").
PUSH_MAIN = {"Build.Reason": "IndividualCI", "Build.SourceBranch": "refs/heads/main"}
PULL_REQUEST = {"Build.Reason": "PullRequest", "Build.SourceBranch": "refs/pull/42/merge"}
MANUAL_FEATURE = {"Build.Reason": "Manual", "Build.SourceBranch": "refs/heads/feature/x"}


def _macros(tmp_path: Path, work: Path | None = None) -> dict[str, str]:
    return {
        "System.DefaultWorkingDirectory": str(work or tmp_path / "work"),
        "Agent.TempDirectory": str(tmp_path / "agent-tmp"),
        "Pipeline.Workspace": str(tmp_path / "workspace"),
        "Build.ArtifactStagingDirectory": str(tmp_path / "staging"),
    }


def _step_env(step: dict, values: dict[str, str]) -> dict[str, str]:
    """The step's own env: mapping with its $(macros) replaced as the agent would (unknown: 'x')."""
    return {
        key: ANY_MACRO.sub(lambda m: values.get(m.group(1), "x"), str(value))
        for key, value in (step.get("env") or {}).items()
    }


def _stub(bin_dir: Path, name: str, body: str) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(0o755)


def _ci() -> dict:
    return Expander().expand_pipeline(REPO_ROOT / "azure-pipelines.yml", {})


def _job_of(pipeline: dict, action: str) -> tuple[dict, list[dict], dict]:
    for _stage, job in walk_jobs(pipeline):
        steps = job_steps(job)
        for step in steps:
            if (step.get("env") or {}).get("TF_ACTION") == action:
                return job, steps, step
    raise AssertionError(f"no {action} job")


# --------------------------------------------------------------------------------------- 13.2 case-sensitive
def test_no_pipeline_sets_a_case_sensitive_variable_through_setvariable(expansions):
    """The agent upper-cases variable names when it makes environment variables of them, so TF_VAR_kubeconfig_path
    set by ##vso[task.setvariable] reached Terraform as TF_VAR_KUBECONFIG_PATH, which it ignores."""
    problems = []
    for case, (pipeline, _) in expansions.items():
        problems += setvariable_problems(pipeline, case)
    assert problems == []


# --------------------------------------------------------------------------------------- 13.3 agent pool
def test_jobs_that_touch_azure_run_on_the_configured_deploy_pool(expansions, registry):
    """Plan, apply, drift and registry-push jobs run on config/platform.toml [pipelines] agent_pool (whose egress
    every firewall admits); only jobs that touch no Azure resource may run on Microsoft-hosted agents."""
    pool = registry.config.agent_pool
    problems, azure_jobs = [], 0
    for case, (pipeline, _) in expansions.items():
        for stage, job in walk_jobs(pipeline):
            job_pool = job.get("pool") or (stage or {}).get("pool") or pipeline.get("pool") or {}
            touches_azure = any(s.get("task") == "AzureCLI@2" or (s.get("env") or {}).get("TF_ACTION")
                                for s in job_steps(job))
            name = f"{case}: job {job.get('job') or job.get('deployment')}"
            if touches_azure:
                azure_jobs += 1
                if not isinstance(job_pool, dict) or job_pool.get("name") != pool:
                    problems.append(f"{name} touches Azure but runs on {job_pool!r}, not pool {pool!r}")
            elif isinstance(job_pool, dict) and "vmImage" not in job_pool and job_pool.get("name") != pool:
                problems.append(f"{name} runs on an unknown pool {job_pool!r}")
    assert problems == []
    assert azure_jobs > len(expansions)


def test_every_allow_list_derives_from_the_platform_config(tmp_path):
    """Change the pool's egress and subnet in one place (a copy of config/platform.toml) and every firewall and
    API-server allow-list of every stack follows: state account, Key Vaults, Premium registries, AKS."""
    from infra.app import build_app
    from infra.platform_config import load_platform_config
    from infra.registry import load_registry

    subnet = ("/subscriptions/44444444-4444-4444-4444-444444444444/resourceGroups/rg-agents/providers/"
              "Microsoft.Network/virtualNetworks/vnet-agents/subnets/agents")
    text = (REPO_ROOT / "config/platform.toml").read_text()
    text = text.replace('agent_egress_ranges = ["192.0.2.0/28"]', 'agent_egress_ranges = ["198.18.7.0/29"]')
    text = text.replace("agent_subnet_ids = []", f'agent_subnet_ids = ["{subnet}"]')
    config_file = tmp_path / "platform.toml"
    config_file.write_text(text)
    config = load_platform_config(config_file)
    assert config.agent_egress_ranges == ("198.18.7.0/29",) and config.agent_subnet_ids == (subnet,)
    registry = load_registry(config=config)
    build_app(registry, outdir=str(tmp_path / "out")).synth()
    stacks = {n: json.loads((tmp_path / "out/stacks" / n / "cdk.tf.json").read_text()) for n in registry.stack_names}
    checked = 0
    accounts = stacks["bootstrap"]["resource"]["azurerm_storage_account"].values()
    assert len(accounts) >= 2  # one state account per region with an environment
    for account in accounts:
        assert account["network_rules"]["ip_rules"][0] == "198.18.7.0/29"
        assert account["network_rules"]["virtual_network_subnet_ids"] == [subnet]
    for name, stack in stacks.items():
        resources = stack.get("resource", {})
        for vault in resources.get("azurerm_key_vault", {}).values():
            assert vault["network_acls"]["ip_rules"][0] == "198.18.7.0/29", name
            assert vault["network_acls"]["virtual_network_subnet_ids"] == [subnet], name
            checked += 1
        for acr in resources.get("azurerm_container_registry", {}).values():
            if acr["sku"] == "Premium":
                assert acr["network_rule_set"][0]["ip_rule"][0]["ip_range"] == "198.18.7.0/29", name
                checked += 1
        for aks in resources.get("azurerm_kubernetes_cluster", {}).values():
            assert aks["api_server_access_profile"]["authorized_ip_ranges"][0] == "198.18.7.0/29", name
            checked += 1
    assert "192.0.2.0/28" not in json.dumps(stacks), "the old egress is still somewhere: not derived from config"
    assert checked >= 6 + 3 + 5


@pytest.mark.parametrize(("old", "new", "message"), [
    ('agent_pool = "platform-deploy"', 'agent_pool = "pool/with/slashes"', "[pipelines] agent_pool = "),
    ('agent_egress_ranges = ["192.0.2.0/28"]', 'agent_egress_ranges = ["192.0.2.7/28"]',
     "agent_egress_ranges entry '192.0.2.7/28'; allowed: public IPv4 addresses or CIDRs"),
    ('agent_egress_ranges = ["192.0.2.0/28"]', 'agent_egress_ranges = ["192.0.2.7/32"]',
     "allowed: a prefix up to /30, or a single address written without a prefix"),
    ('agent_egress_ranges = ["192.0.2.0/28"]', "agent_egress_ranges = []",
     "[pipelines] has neither agent_egress_ranges nor agent_subnet_ids"),
    ("agent_subnet_ids = []", 'agent_subnet_ids = ["subnet-1"]', "agent_subnet_ids entry 'subnet-1'; allowed"),
    ("[pipelines]", "[pipeline]", "[pipelines] is missing"),
])
def test_bad_pipelines_config_is_one_clear_line(tmp_path, old, new, message):
    from infra.errors import ConfigError
    from infra.platform_config import load_platform_config

    text = (REPO_ROOT / "config/platform.toml").read_text()
    assert old in text
    config_file = tmp_path / "platform.toml"
    config_file.write_text(text.replace(old, new))
    with pytest.raises(ConfigError) as error:
        load_platform_config(config_file)
    assert message in str(error.value) and "\n" not in str(error.value)


# --------------------------------------------------------------------------------------- 13.4 kubelogin
def test_aks_stacks_take_the_kubelogin_mode_from_a_variable_the_pipeline_sets(expansions, synthesized):
    """Every AKS stack's helm and kubernetes providers run kubelogin with --login ${var.kubelogin_login_mode};
    every Terraform step of every pipeline sets it to azurepipelines and passes what that mode reads
    (Azure/kubelogin v0.2.19), from the job's own service connection."""
    aks = [n for n in synthesized.stacks if synthesized.resources(n, "azurerm_kubernetes_cluster")]
    assert len(aks) == 5
    for name in aks:
        stack = synthesized.stacks[name]
        for args in (stack["provider"]["kubernetes"][0]["exec"][0]["args"],
                     stack["provider"]["helm"][0]["kubernetes"]["exec"]["args"]):
            assert args[args.index("--login") + 1] == "${var.kubelogin_login_mode}", name
    problems, jobs = [], 0
    for case, (pipeline, _) in expansions.items():
        problems += kubelogin_problems(pipeline, case)
        for environment, action, before, step in terraform_jobs(pipeline):
            jobs += 1
            for key, value in KUBELOGIN_PIPELINE_ENV.items():
                assert step["env"][key] == value, (case, action, key)
            assert (connection_step(before) or {}).get("inputs", {}).get("azureSubscription") == (
                f"azure-platform-{environment}")
            assert step.get("task") is None and "bash" in step, "Terraform runs in Bash@3 (cancel, see 17.5)"
    assert problems == []
    assert jobs >= 3


def test_kubelogin_installer_refuses_a_zip_with_another_checksum(tmp_path):
    """The installer downloads the pinned release and checks its SHA-256 before anything runs it."""
    _job, steps, _terraform = _job_of(_ci(), "plan")
    install = next(s for s in steps if "KUBELOGIN_VERSION" in (s.get("env") or {}))
    bin_dir, zip_dir = tmp_path / "bin", tmp_path / "zip"
    (zip_dir / "bin/linux_amd64").mkdir(parents=True)
    (zip_dir / "bin/linux_amd64/kubelogin").write_text("#!/bin/bash\necho kubelogin version v0.2.19\n")
    (zip_dir / "bin/linux_amd64/kubelogin").chmod(0o755)
    with zipfile.ZipFile(tmp_path / "release.zip", "w") as archive:  # the release's layout
        archive.write(zip_dir / "bin/linux_amd64/kubelogin", "bin/linux_amd64/kubelogin")
    _stub(bin_dir, "curl", f'echo "$@" >> "{tmp_path}/curl.log"\nout=""\nwhile [ $# -gt 0 ]; do '
          f'[ "$1" = --output ] && out=$2; shift; done\ncp "{tmp_path}/release.zip" "$out"\n')
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", **_step_env(install, {})}
    result = run_inline_script(install, _macros(tmp_path), env)
    assert result.returncode == 1
    assert result.stdout.startswith("##vso[task.logissue type=error]kubelogin-linux-amd64.zip v0.2.19 has SHA-256")
    assert "releases/download/v0.2.19/kubelogin-linux-amd64.zip" in (tmp_path / "curl.log").read_text()
    env["KUBELOGIN_SHA256"] = hashlib.sha256((tmp_path / "release.zip").read_bytes()).hexdigest()
    result = run_inline_script(install, _macros(tmp_path), env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "##vso[task.prependpath]" in result.stdout and "kubelogin version v0.2.19" in result.stdout


# --------------------------------------------------------------------------------------- 13.5 plan secrets
def test_no_plan_is_ever_a_pipeline_artifact(expansions):
    """A tfplan holds prior state in clear text; artifacts are readable with "View builds". The only
    artifacts are the synthesized stacks (and a service's image); plans go to the state container."""
    problems = []
    for case, (pipeline, _) in expansions.items():
        for _stage, job in walk_jobs(pipeline):
            steps = job_steps(job)
            plans = any((s.get("env") or {}).get("TF_ACTION") == "plan" for s in steps)
            for step in steps:
                if step.get("task") == "PublishPipelineArtifact@1":
                    artifact = (step.get("inputs") or {}).get("artifact")
                    if plans or artifact not in ("cdktf-out", "service-image"):
                        problems.append(f"{case}: job {job.get('job')} publishes artifact {artifact!r}")
                if step.get("task") == "DownloadPipelineArtifact@2":
                    artifact = (step.get("inputs") or {}).get("artifactName")
                    if artifact not in ("cdktf-out", "service-image"):
                        problems.append(f"{case}: job {job.get('job') or job.get('deployment')} downloads "
                                        f"artifact {artifact!r}")
    assert problems == []


def _plan_store_step(action: str) -> dict:
    pipeline = Expander().expand_pipeline(REPO_ROOT / "pipelines/release.yml",
                                          {"environment": "staging", "versions": "as-committed", "applyScope": "full"})
    for _stage, job in walk_jobs(pipeline):
        for step in job_steps(job):
            if (step.get("env") or {}).get("PLAN_ACTION") == action:
                return step
    raise AssertionError(action)


def test_plan_goes_to_the_environments_state_container_and_only_with_changes_outside_pull_requests(
    synthesized, tmp_path
):
    upload = _plan_store_step("upload")
    assert upload["task"] == "AzureCLI@2" and upload["inputs"]["azureSubscription"] == "azure-platform-staging"
    changed = {**PUSH_MAIN, "terraform.changes": "true"}
    assert condition_holds(upload["condition"], changed)
    assert not condition_holds(upload["condition"], {**changed, **PULL_REQUEST})
    assert not condition_holds(upload["condition"], {**PUSH_MAIN, "terraform.changes": "false"})
    backend = synthesized.stacks["staging"]["terraform"]["backend"]["azurerm"]
    work, bin_dir = tmp_path / "work", tmp_path / "bin"
    work.mkdir()
    (work / "cdktf.out").symlink_to(synthesized.outdir)
    (tmp_path / "agent-tmp/plan").mkdir(parents=True)
    (tmp_path / "agent-tmp/plan/plan.tar.gz").write_bytes(b"plan")
    _stub(bin_dir, "az", f'echo "az $*" >> "{tmp_path}/az.log"\n')
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}",
           **_step_env(upload, {"terraform.planBlob": "staging-full-17-1.tar.gz"})}
    result = run_inline_script(upload, _macros(tmp_path), env)
    assert result.returncode == 0, result.stdout + result.stderr
    calls = (tmp_path / "az.log").read_text().splitlines()
    assert calls[0] == (
        f"az storage blob upload --auth-mode login --account-name {backend['storage_account_name']} "
        f"--container-name {backend['container_name']} --only-show-errors --name plans/staging-full-17-1.tar.gz "
        f"--file {tmp_path}/agent-tmp/plan/plan.tar.gz --overwrite false --output none")
    assert calls[1].startswith(f"az storage blob delete-batch --auth-mode login --account-name "
                               f"{backend['storage_account_name']} --source {backend['container_name']} "
                               "--pattern plans/* --if-unmodified-since ")
    assert not (tmp_path / "staging").exists(), "nothing may be written to the artifact staging directory"
    delete = _plan_store_step("delete")
    assert delete["condition"] == "always()"


# --------------------------------------------------------------------------------------- 13.6 / 17.7 versions
class FakeAzureRepos:
    """The few Azure Repos REST calls record_versions.py makes (pull requests: list, create, update, get), over
    a local bare repository. ``complete_on_get`` merges (squash) the source branch into main on the first GET,
    as auto-complete does once the checks pass."""

    def __init__(self, bare: Path, complete_on_get: bool = False) -> None:
        self.bare, self.complete_on_get = bare, complete_on_get
        self.pulls: dict[int, dict] = {}
        self.calls: list[tuple[str, str, dict | None]] = []
        handler = self._handler()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/org/project/_apis/git/repositories/platform"

    def close(self) -> None:
        self.server.shutdown()

    def _merge(self, pull: dict) -> None:
        work = self.bare.parent / f"merge-{pull['pullRequestId']}"
        subprocess.run(["git", "clone", "-q", str(self.bare), str(work)], check=True)
        branch = pull["sourceRefName"].removeprefix("refs/heads/")
        for args in (["merge", "--squash", f"origin/{branch}"], ["commit", "-q", "-m", pull["title"]],
                     ["push", "-q", "origin", "HEAD:refs/heads/main"]):
            subprocess.run(["git", "-c", "user.name=ado", "-c", "user.email=ado@x", *args], cwd=work, check=True)
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=work, check=True, capture_output=True,
                             text=True).stdout.strip()
        pull.update(status="completed", lastMergeCommit={"commitId": sha})

    def _handler(self):
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _reply(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict | None:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length)) if length else None

            def do_GET(self):
                path, _, query = self.path.partition("?")
                fake.calls.append(("GET", self.path, None))
                assert self.headers["Authorization"] == "Bearer job-token"
                if path.endswith("/pullrequests"):
                    source = urllib.parse.parse_qs(query)["searchCriteria.sourceRefName"][0]
                    found = [p for p in fake.pulls.values() if p["sourceRefName"] == source and p["status"] == "active"]
                    return self._reply({"value": found, "count": len(found)})
                pull = fake.pulls[int(path.rsplit("/", 1)[1])]
                if fake.complete_on_get and pull["status"] == "active":
                    fake._merge(pull)
                return self._reply(pull)

            def do_POST(self):
                body = self._body()
                fake.calls.append(("POST", self.path, body))
                number = len(fake.pulls) + 1
                fake.pulls[number] = {**body, "pullRequestId": number, "status": "active",
                                      "mergeStatus": "succeeded", "createdBy": {"id": "build-service-id"}}
                return self._reply(fake.pulls[number])

            def do_PATCH(self):
                body = self._body()
                fake.calls.append(("PATCH", self.path, body))
                pull = fake.pulls[int(self.path.partition("?")[0].rsplit("/", 1)[1])]
                pull.update(body)
                return self._reply(pull)

        return Handler


@pytest.fixture
def platform_origin(tmp_path) -> tuple[Path, Path]:
    """A bare 'origin' holding the frozen fixture versions/ (tests/fixtures/versions) on main, and a clone of it (the
    job's checkout): the versions the tests bump to stay newer than main's whatever the live files say."""
    from tests.conftest import FIXTURE_VERSIONS

    seed, bare, clone = tmp_path / "seed", tmp_path / "origin.git", tmp_path / "checkout"
    shutil.copytree(FIXTURE_VERSIONS, seed / "versions")
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "seed"]):
        subprocess.run(["git", "-c", "user.name=s", "-c", "user.email=s@x", *args], cwd=seed, check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(bare)], check=True)
    subprocess.run(["git", "clone", "-q", str(bare), str(clone)], check=True)
    for key, value in (("user.name", "Azure Pipelines"), ("user.email", "p@x.invalid")):
        subprocess.run(["git", "config", key, value], cwd=clone, check=True)
    return bare, clone


def _record(clone: Path, api: str, *args: str, infra: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "SYSTEM_ACCESSTOKEN": "job-token", "RECORD_VERSIONS_API": api,
           "INFRA_VERSIONS_DIR": str(clone / "versions"), "RECORD_VERSIONS_BACKOFF": "0.05",
           "RECORD_VERSIONS_POLL": "0.05"}
    script = REPO_ROOT / "pipelines/scripts/record_versions.py"
    command = [sys.executable, str(script), "--infra", infra or str(Path(sys.executable).parent / "infra"), *args]
    return subprocess.run(command, cwd=clone, env=env, capture_output=True, text=True, timeout=120)


def _main_sha(bare: Path) -> str:
    return subprocess.run(["git", "rev-parse", "main"], cwd=bare, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_a_service_bump_becomes_an_auto_completing_pull_request_never_a_push_to_main(platform_origin):
    bare, clone = platform_origin
    main_before = _main_sha(bare)
    fake = FakeAzureRepos(bare)
    try:
        result = _record(clone, fake.url, "bump", "api", "1.43.0")
    finally:
        fake.close()
    assert result.returncode == 0, result.stdout + result.stderr
    assert _main_sha(bare) == main_before, "main must never be pushed"
    catalog = subprocess.run(["git", "show", "versions/bump-api:versions/catalog.yaml"], cwd=bare,
                             capture_output=True, text=True, check=True).stdout
    assert "version: 1.43.0" in catalog
    (post,) = [c for c in fake.calls if c[0] == "POST"]
    assert post[2]["sourceRefName"] == "refs/heads/versions/bump-api"
    assert post[2]["targetRefName"] == "refs/heads/main"
    (patch,) = [c for c in fake.calls if c[0] == "PATCH"]
    assert patch[2]["autoCompleteSetBy"] == {"id": "build-service-id"}
    assert patch[2]["completionOptions"]["deleteSourceBranch"] is True
    assert all("api-version=7.1" in c[1] for c in fake.calls)


def test_concurrent_bumps_retry_on_a_fresh_main_and_an_older_bump_records_nothing(platform_origin, tmp_path):
    """A concurrent build of the same component updates the branch between fetch and push: the lease refuses the
    push and the loop starts over (after a jittered pause). A bump older than the open pull request's is a
    no-op with a warning."""
    bare, clone = platform_origin
    rival = tmp_path / "rival"
    subprocess.run(["git", "clone", "-q", str(bare), str(rival)], check=True)
    (rival / "note.txt").write_text("rival")
    subprocess.run(["git", "-c", "user.name=r", "-c", "user.email=r@x", "commit", "-q", "--allow-empty", "-m", "r"],
                   cwd=rival, check=True)
    marker = tmp_path / "raced"
    infra = tmp_path / "infra-racing"
    real = Path(sys.executable).parent / "infra"
    infra.write_text(f'#!/bin/bash\nset -e\n"{real}" "$@"\nif [ ! -e "{marker}" ]; then touch "{marker}"; '
                     f'git -C "{rival}" push -q --force origin HEAD:refs/heads/versions/bump-api; fi\n')
    infra.chmod(0o755)
    fake = FakeAzureRepos(bare)
    try:
        raced = _record(clone, fake.url, "bump", "api", "1.43.0", infra=str(infra))
        older = _record(clone, fake.url, "bump", "api", "1.42.5")
    finally:
        fake.close()
    assert raced.returncode == 0, raced.stdout + raced.stderr
    assert "Push of versions/bump-api refused" in raced.stdout
    assert re.search(r"Retrying on a fresh main in \d+\.\d s\.", raced.stdout)
    assert "(attempt 2)" in raced.stdout
    assert older.returncode == 0, older.stdout + older.stderr
    assert ("##vso[task.logissue type=warning]versions/bump-api already records api 1.43.0 (not older than "
            "1.42.5); nothing to record") in older.stdout
    catalog = subprocess.run(["git", "show", "versions/bump-api:versions/catalog.yaml"], cwd=bare,
                             capture_output=True, text=True, check=True).stdout
    assert "version: 1.43.0" in catalog


def test_retry_pauses_grow_and_are_jittered():
    """Both loops (bump and release-staging) pause through the same function: attempt n waits between n*b and
    2*n*b seconds, so concurrent runs do not retry in lock-step."""
    spec = importlib.util.spec_from_file_location("record_versions", REPO_ROOT / "pipelines/scripts/record_versions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    delays: list[float] = []
    module.time.sleep = delays.append
    module.log = lambda _message: None
    for attempt in (1, 1, 1, 3):
        module.pause(attempt, 2.0)
    assert all(2.0 <= d <= 4.0 for d in delays[:3]) and 6.0 <= delays[3] <= 12.0
    assert len(set(delays[:3])) == 3, "no jitter"
    source = (REPO_ROOT / "pipelines/scripts/record_versions.py").read_text()
    assert source.count("pause(attempt, args.backoff)") == 2


def test_release_staging_waits_for_its_pull_request_and_deploys_the_merge_commit(platform_origin):
    bare, clone = platform_origin
    fake = FakeAzureRepos(bare, complete_on_get=True)
    try:
        result = _record(clone, fake.url, "release-staging", "--wait-minutes", "1")
    finally:
        fake.close()
    assert result.returncode == 0, result.stdout + result.stderr
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True,
                          check=True).stdout.strip()
    assert head == _main_sha(bare), "the run deploys main's merge commit"
    assert "web:\n    version: 2.7.1" in (clone / "versions/releases/staging.yaml").read_text()
    (post,) = [c for c in fake.calls if c[0] == "POST"]
    assert post[2]["sourceRefName"] == "refs/heads/versions/release-staging"


def test_no_pipeline_pushes_to_main_or_needs_bypass(expansions):
    """Version changes reach main only through pull requests: no step runs `git push` (the scripts push
    versions/* branches only, with a lease)."""
    for case, (pipeline, _) in expansions.items():
        for _stage, job in walk_jobs(pipeline):
            for step in job_steps(job):
                assert not re.search(r"\bgit\s+push\b", step_script(step)), (case, step.get("displayName"))
    source = (REPO_ROOT / "pipelines/scripts/record_versions.py").read_text()
    assert re.findall(r'"push", "--quiet", f"--force-with-lease=refs/heads/\{branch\}:\{lease\}", "origin",\s*'
                      r'f"HEAD:refs/heads/\{branch\}"', source)
    assert 'branch = f"versions/bump-{args.component}"' in source
    assert 'branch = "versions/release-staging"' in source


# --------------------------------------------------------------------------------------- 13.7 branch control
def _branch_check(pipeline: dict) -> list[dict]:
    return [s for _st, job in walk_jobs(pipeline) for s in job_steps(job) if s.get("name") == "branchCheck"]


def test_every_deployment_refuses_any_branch_but_main(expansions, tmp_path):
    for case, (pipeline, _) in expansions.items():
        for stage, job in walk_jobs(pipeline):
            if "deployment" not in job:
                continue
            steps = [s for s in job_steps(job) if s.get("download") != "none"]
            assert steps[0].get("name") == "branchCheck", case
            assert steps[0]["env"]["SOURCE_BRANCH"] == "$(Build.SourceBranch)", case
            assert not condition_holds(stage["condition"], MANUAL_FEATURE, {stage["dependsOn"]: {
                "result": "Succeeded", "outputs": {"plan.terraform.changes": "true"}}}), case
    release = Expander().expand_pipeline(REPO_ROOT / "pipelines/release.yml", {
        "environment": "dev", "versions": "as-committed", "applyScope": "full"})
    checks = _branch_check(release)
    assert len(checks) == 2, "the check stage and the apply job"
    assert _branch_check({"stages": [release["stages"][0]]}), "the check stage refuses first, before any build"
    check = checks[0]
    for branch, code in (("refs/heads/feature/x", 1), ("refs/heads/main", 0)):
        env = {"PATH": os.environ["PATH"], **_step_env(check, {"Build.SourceBranch": branch})}
        result = run_inline_script(check, _macros(tmp_path), env)
        assert result.returncode == code
        if code:
            assert result.stdout == ("##vso[task.logissue type=error]deployments run only from refs/heads/main; "
                                     "this run is from 'refs/heads/feature/x'\n")


# --------------------------------------------------------------------------------------- 13.8 registry push
def test_pull_request_builds_never_reach_a_registry_login(expansions):
    pipeline, _ = expansions["service-build (example consumer)"]
    connection = SERVICE_CONSUMER["extends"]["parameters"]["registryServiceConnection"]

    def logins(variables):
        return [s for _st, _j, s in reachable_steps(pipeline, variables)
                if (s.get("inputs") or {}).get("azureSubscription") == connection]

    assert logins(PULL_REQUEST) == []
    assert len(logins(PUSH_MAIN)) == 1
    for _stage, job in walk_jobs(pipeline):
        steps = job_steps(job)
        if any("docker build" in step_script(s) for s in steps):
            assert not any(s.get("task") == "AzureCLI@2" for s in steps), "the build job must hold no connection"


# --------------------------------------------------------------------------------------- 13.9 schema
def test_a_missing_schema_fails_in_a_pipeline_and_is_fetched_pinned(monkeypatch, tmp_path):
    monkeypatch.setenv("INFRA_PIPELINE_SCHEMA", str(tmp_path / "absent.json"))
    monkeypatch.setenv("TF_BUILD", "True")
    with pytest.raises(pytest.fail.Exception, match=r"absent\.json"):
        needs_schema()
    monkeypatch.delenv("TF_BUILD")
    with pytest.raises(pytest.skip.Exception, match="set INFRA_PIPELINE_SCHEMA"):
        needs_schema()
    pipeline = _ci()
    build = next(job for _s, job in walk_jobs(pipeline) if job.get("job") == "build")
    steps = build["steps"]
    fetch = next(i for i, s in enumerate(steps) if "SCHEMA_SHA256" in (s.get("env") or {}))
    test = next(i for i, s in enumerate(steps) if s.get("script") == "make test")
    assert fetch < test
    readme = (REPO_ROOT.parent / "shared/schemas/README.md")
    env = steps[fetch]["env"]
    if readme.is_file():  # the shared README names the same commit and checksum
        assert env["SCHEMA_COMMIT"] in readme.read_text() and env["SCHEMA_SHA256"] in readme.read_text()
    bin_dir = tmp_path / "bin"
    (tmp_path / "agent-tmp").mkdir()  # the agent creates it for every job
    _stub(bin_dir, "curl", 'out=""; while [ $# -gt 0 ]; do [ "$1" = --output ] && out=$2; shift; done; '
          'echo "{}" > "$out"\n')
    result = run_inline_script(steps[fetch], _macros(tmp_path), {"PATH": f"{bin_dir}:{os.environ['PATH']}", **env})
    assert result.returncode == 1 and "service-schema.json at 9e40e814" in result.stdout


# --------------------------------------------------------------------------------------- 13.10 sentinel
def test_release_preselects_a_sentinel_that_the_pipeline_rejects_with_one_line(tmp_path):
    raw = load_yaml(REPO_ROOT / "pipelines/release.yml")
    environment = next(p for p in declared_parameters(raw, "release") if p.name == "environment")
    assert environment.values[0] == RELEASE_SENTINEL and not environment.has_default
    pipeline = Expander().expand_pipeline(REPO_ROOT / "pipelines/release.yml", {
        "environment": RELEASE_SENTINEL, "versions": "as-committed", "applyScope": "full"})
    assert [s["stage"] for s in pipeline["stages"]] == ["check"]
    assert targeted_environments(pipeline) == {}
    check = pipeline["stages"][0]["jobs"][0]["steps"][1]
    env = {"PATH": os.environ["PATH"], **_step_env(check, {"Build.SourceBranch": "refs/heads/main"})}
    result = run_inline_script(check, _macros(tmp_path), env)
    assert result.returncode == 1
    assert result.stdout == ("##vso[task.logissue type=error]choose the environment to deploy (parameter "
                             "'environment'); nothing was deployed\n")


# --------------------------------------------------------------------------------------- 13.11 no pasted values
def test_no_script_pastes_a_value_into_its_source(expansions):
    """$(Build.SourceBranch), $(Build.RequestedFor) and template parameters reach scripts through env: only."""
    problems = []
    for case, (pipeline, _) in expansions.items():
        problems += script_macro_problems(pipeline, case)
    for path in all_pipeline_files():
        problems += raw_script_expression_problems(load_yaml(path), rel(path))
    assert sorted(set(problems)) == []


# --------------------------------------------------------------------------------------- 13.12 caching
def test_pip_downloads_and_terraform_providers_are_cached_on_the_lock_files(expansions, synthesized, tmp_path):
    caches = 0
    for case, (pipeline, _) in expansions.items():
        for _stage, job in walk_jobs(pipeline):
            steps = job_steps(job)
            for index, step in enumerate(steps):
                if step.get("script") == "make setup":
                    cache = [s for s in steps[:index] if s.get("task") == "Cache@2"]
                    assert cache and "requirements.lock" in cache[-1]["inputs"]["key"].split(" | "), case
                    caches += 1
                if (step.get("env") or {}).get("TF_ACTION"):
                    cache = [s for s in steps[:index] if s.get("task") == "Cache@2"]
                    env = step["env"]["TF_ENVIRONMENT"]
                    assert cache and cache[-1]["inputs"]["key"].endswith(f"cdktf.out/providers-{env}.key"), case
                    caches += 1
    assert caches > len(expansions)
    _job, steps, _terraform = _job_of(_ci(), "plan")
    key_step = next(s for s in steps if "CACHE_ENVIRONMENT" in (s.get("env") or {}))
    work = tmp_path / "work"
    shutil.copytree(synthesized.outdir / "stacks" / "dev", work / "cdktf.out/stacks/dev")
    result = run_inline_script(key_step, _macros(tmp_path), {"PATH": os.environ["PATH"], **key_step["env"]})
    assert result.returncode == 0, result.stderr
    providers = synthesized.stacks["dev"]["terraform"]["required_providers"]
    assert (work / "cdktf.out/providers-dev.key").read_text().splitlines() == [
        f"{name} {spec['source']} {spec['version']}" for name, spec in sorted(providers.items())]
    assert f"##vso[task.setvariable variable=TF_PLUGIN_CACHE_DIR]{tmp_path}/workspace/terraform-cache/plugins" in (
        result.stdout)


# --------------------------------------------------------------------------------------- issue 12: build stage
def test_build_stage_validates_against_the_registry_and_templates_every_release(expansions):
    pipeline = _ci()
    build = next(job for _s, job in walk_jobs(pipeline) if job.get("job") == "build")
    assert build["variables"]["INFRA_VALIDATE"] == "registry"
    assert "vmImage" in build["pool"], "the build job touches no Azure resource"
    scripts = [s.get("script") or s.get("bash") or "" for s in build["steps"]]
    synth = next(i for i, s in enumerate(scripts) if "make synth" in s)
    validate = scripts.index("make validate")
    template = next(i for i, s in enumerate(build["steps"]) if (s.get("env") or {}).get("TEMPLATE_SOURCE") == "public")
    helm = next(i for i, s in enumerate(build["steps"]) if "HELM_SHA256" in (s.get("env") or {}))
    assert helm < synth < validate < template
    assert SHA256.match(build["steps"][helm]["env"]["HELM_SHA256"])
    for case, (other, _) in expansions.items():
        for environment, action, before, _step in terraform_jobs(other):
            if action == "plan" and _step["env"]["TF_SCOPE"] == "full":
                oci = [s for s in before if (s.get("env") or {}).get("TEMPLATE_SOURCE") == "oci"]
                login = [i for i, s in enumerate(before) if s.get("name") == "helmRegistryLogin"]
                assert oci and oci[0]["env"]["TEMPLATE_ENVIRONMENT"] == environment, case
                assert login and login[-1] < before.index(oci[0]), case


def _helm_template(stacks_dir: Path, tmp_path: Path, source: str, fail_chart: str = "") -> tuple:
    bin_dir = tmp_path / f"bin-{source}"
    _stub(bin_dir, "helm", f'echo "$*" >> "{tmp_path}/helm-{source}.log"\n'
          'prev=""; for a in "$@"; do if [ "$prev" = --values ]; then echo "--- $a" >> '
          f'"{tmp_path}/values-{source}.log"; cat "$a" >> "{tmp_path}/values-{source}.log"; echo >> '
          f'"{tmp_path}/values-{source}.log"; fi; prev=$a; done\n'
          f'if [ -n "{fail_chart}" ] && [[ " $* " == *" {fail_chart} "* ]]; then '
          'echo "Error: values don\'t meet the specifications of the schema(s)" >&2; exit 1; fi\n'
          'printf "kind: Deployment\\n---\\nkind: Service\\n"\n')
    script = REPO_ROOT / "pipelines/scripts/helm_template.py"
    result = subprocess.run([sys.executable, str(script), "--stacks-dir", str(stacks_dir), "--source", source,
                             "--helm", str(bin_dir / "helm")], capture_output=True, text=True, timeout=120)
    log = tmp_path / f"helm-{source}.log"
    return result, log.read_text().splitlines() if log.exists() else []


def test_helm_template_renders_every_release_once_with_its_values(synthesized, tmp_path):
    stacks_dir = synthesized.outdir / "stacks"
    public, public_calls = _helm_template(stacks_dir, tmp_path, "public")
    oci, oci_calls = _helm_template(stacks_dir, tmp_path, "oci")
    assert public.returncode == 0 and oci.returncode == 0, public.stdout + oci.stdout
    releases = [(n, body) for n in synthesized.stacks for body in synthesized.resources(n, "helm_release").values()]
    assert len(public_calls) + len(oci_calls) == len(releases) > 30
    for name, body in releases:
        source_calls = oci_calls if body["repository"].startswith("oci://") else public_calls
        chart = (f"{body['repository']}/{body['chart']}" if body["repository"].startswith("oci://")
                 else f"{body['chart']} --repo {body['repository']}")
        matching = [c for c in source_calls if c.startswith(f"template {body['name']} {chart} --namespace ")
                    and f"--version {body['version']} " in c + " "]
        assert matching, (name, body["name"], chart)
    values = (tmp_path / "values-public.log").read_text()
    assert '"azure.workload.identity/client-id": "tf-unknown"' in values, "references become placeholders"
    assert "${" not in values
    assert '"txtOwnerId": "dev"' in values
    assert public.stdout.splitlines()[-1] == f"helm template: {len(public_calls)} of {len(public_calls)} public " \
        "releases rendered"
    namespaces = {c.split("--namespace ")[1].split()[0] for c in public_calls}
    assert {"cert-manager", "ingress-nginx", "external-dns"} <= namespaces


def test_helm_template_fails_with_one_line_per_release_the_chart_refuses(synthesized, tmp_path):
    result, _calls = _helm_template(synthesized.outdir / "stacks", tmp_path, "public", fail_chart="ingress-nginx")
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("##vso[task.logissue type=error]")]
    stacks_with_nginx = [n for n in synthesized.stacks if any(
        b["chart"] == "ingress-nginx" for b in synthesized.resources(n, "helm_release").values())]
    assert len(errors) == len(stacks_with_nginx)
    assert errors[0].endswith("chart ingress-nginx " + next(
        b["version"] for b in synthesized.resources(stacks_with_nginx[0], "helm_release").values()
        if b["chart"] == "ingress-nginx") + "): helm template failed: Error: values don't meet the specifications "
        "of the schema(s)")


# --------------------------------------------------------------------------------------- chart references
# tests/test_chart_values.py reads upstream <chart>/<version>/values.yaml (and values.schema.json) from
# CHART_REFERENCES, else ../shared/charts, and fails without them. An agent has no ../shared: the build job pulls
# the real charts first (steps/chart-references.yml, pipelines/scripts/chart_references.py).
CHART_REFERENCES_SCRIPT = REPO_ROOT / "pipelines/scripts/chart_references.py"
STUB_SCHEMA_CHARTS = ("cert-manager", "external-dns")  # the stub ships a values.schema.json for these only


def _stub_helm(tmp_path: Path, fail_chart: str = "") -> Path:
    """A fake `helm pull <chart> --repo R --version V --untar --untardir D` (or `helm pull oci://.../<chart>`):
    logs its arguments and expands a chart as helm does, into D/<chart name>/ (plus the empty folder named
    after the archive that helm v3.19 makes beside it with --repo). ``fail_chart``: exit 1 with helm's message."""
    bin_dir = tmp_path / "bin-pull"
    _stub(bin_dir, "helm", f'echo "$*" >> "{tmp_path}/helm-pull.log"\n'
          'chart="$2"; version=""; untardir=""\n'
          'while [ $# -gt 0 ]; do case "$1" in --version) version=$2; shift;; --untardir) untardir=$2; shift;; '
          'esac; shift; done\n'
          'name="${chart##*/}"\n'
          f'if [ "$name" = "{fail_chart}" ]; then echo "Error: chart \\"$name\\" version \\"$version\\" not '
          'found in repository" >&2; exit 1; fi\n'
          'mkdir -p "$untardir/$name" "$untardir/$name-$version.tgz"\n'
          'printf "apiVersion: v2\\nname: %s\\nversion: %s\\n" "$name" "$version" > "$untardir/$name/Chart.yaml"\n'
          'printf "# %s %s\\nreplicaCount: 1\\n" "$name" "$version" > "$untardir/$name/values.yaml"\n'
          'printf "x\\n" > "$untardir/$name/README.md"\n'
          f'case "$name" in {"|".join(STUB_SCHEMA_CHARTS)}) echo \'{{"type": "object"}}\' > '
          '"$untardir/$name/values.schema.json";; esac\n')
    return bin_dir


def _chart_references(tmp_path: Path, out: Path, bin_dir: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHART_REFERENCES_SCRIPT), "--out", str(out)], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", **env})


def _third_party_pins(synthesized) -> set[tuple[str, str, str]]:
    """(repository, chart, version) of every third-party release in the synthesized stacks, and of every
    third-party catalog entry, read from the files (not through the script's code path)."""
    from tests.test_chart_values import third_party_sources

    sources = third_party_sources()
    pins = {(b["repository"], b["chart"], b["version"]) for n in synthesized.stacks
            for b in synthesized.resources(n, "helm_release").values() if (b.get("repository"), b["chart"]) in sources}
    catalog = load_yaml(REPO_ROOT / "versions/catalog.yaml")["components"]
    pins |= {(c["repository"], c["chart"], str(c["version"])) for c in catalog.values()
             if "{registry}" not in c["repository"]}
    return pins


def test_chart_references_are_pulled_for_exactly_the_pinned_third_party_versions(synthesized, tmp_path,
                                                                                monkeypatch):
    from tests.test_chart_values import Reference, references_dir

    out = tmp_path / "agent-tmp/chart-references"
    result = _chart_references(tmp_path, out, _stub_helm(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    pins = _third_party_pins(synthesized)
    assert {c for _r, c, _v in pins} == {"ingress-nginx", "cert-manager", "raw", "external-dns"}
    assert len(pins) >= 7  # the catalog's and production's versions differ
    calls = (tmp_path / "helm-pull.log").read_text().splitlines()
    untardirs = [c.split("--untardir ")[1] for c in calls]
    assert sorted(c.split(" --untardir ")[0] for c in calls) == sorted(
        f"pull {chart} --repo {repository} --version {version} --untar" for repository, chart, version in pins)
    assert all(Path(d).is_absolute() for d in untardirs) and len(set(untardirs)) == len(calls)
    assert not any(own in c.split() for c in calls for own in ("api", "web", "worker", "sso-bridge"))
    # The layout tests/test_chart_values.py reads: exactly the pinned versions, the files verbatim, a README.
    assert {(p.parent.name, p.name) for p in out.glob("*/*")} == {(c, v) for _r, c, v in pins}
    monkeypatch.setenv("CHART_REFERENCES", str(out))
    assert references_dir() == out
    for _repository, chart, version in pins:
        reference = Reference.load(out, chart, version)
        assert reference is not None, (chart, version)
        assert (reference.schema is not None) == (chart in STUB_SCHEMA_CHARTS), (chart, version)
        assert (out / chart / version / "values.yaml").read_text() == f"# {chart} {version}\nreplicaCount: 1\n"
        assert sorted(p.name for p in (out / chart / version).iterdir()) == sorted(
            ["Chart.yaml", "values.yaml"] + (["values.schema.json"] if chart in STUB_SCHEMA_CHARTS else []))
    readme = (out / "README.md").read_text()
    assert all(f"| {chart} | {version} | {repository} |" in readme for repository, chart, version in pins)
    assert sorted(p.name for p in out.parent.iterdir()) == ["chart-references"]  # no staging folder left
    # An earlier output of the script is replaced; a folder the script did not write is refused.
    assert _chart_references(tmp_path, out, _stub_helm(tmp_path)).returncode == 0
    foreign = tmp_path / "mine"
    (foreign / "keep").mkdir(parents=True)
    refused = _chart_references(tmp_path, foreign, _stub_helm(tmp_path))
    assert refused.returncode == 2 and (foreign / "keep").is_dir()
    assert refused.stdout.startswith("##vso[task.logissue type=error]chart_references.py: --out ") and \
        len(refused.stdout.splitlines()) == 1


def test_chart_references_fail_with_one_line_per_chart_version_that_cannot_be_fetched(synthesized, tmp_path):
    out = tmp_path / "chart-references"
    assert _chart_references(tmp_path, out, _stub_helm(tmp_path)).returncode == 0
    before = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    result = _chart_references(tmp_path, out, _stub_helm(tmp_path, fail_chart="ingress-nginx"))
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("##vso[task.logissue type=error]")]
    nginx = sorted(v for _r, c, v in _third_party_pins(synthesized) if c == "ingress-nginx")
    assert errors == [
        f"##vso[task.logissue type=error]chart_references.py: cannot fetch chart ingress-nginx {version} from "
        f"https://kubernetes.github.io/ingress-nginx: helm pull failed: Error: chart \"ingress-nginx\" version "
        f"\"{version}\" not found in repository" for version in nginx]
    assert "Traceback" not in result.stdout + result.stderr
    # Nothing half-written: the earlier folder is as it was, no staging folder is left beside it.
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".chart-references")) == []
    broken = _chart_references(tmp_path, tmp_path / "other", _stub_helm(tmp_path),
                               INFRA_VERSIONS_DIR=str(tmp_path / "nowhere"))
    assert broken.returncode == 2 and not (tmp_path / "other").exists()
    assert broken.stdout == (f"##vso[task.logissue type=error]chart_references.py: INFRA_VERSIONS_DIR={tmp_path}"
                             "/nowhere: no such folder; allowed: a folder holding catalog.yaml and releases/ (unset "
                             "it for versions/)\n") and broken.stderr == ""


def _build_jobs(expansions) -> list[tuple[str, dict]]:
    """(case, job) of the platform's build job in every expansion of the root pipelines (a service repository's
    build job, from service-build.yml, runs the service's own tests)."""
    return [(case, job) for case, (pipeline, _) in expansions.items() if case.split("[")[0] in ROOT_PIPELINES
            for _s, job in walk_jobs(pipeline) if job.get("job") == "build"]


def test_the_build_job_pulls_the_chart_references_before_make_test_and_hands_them_over_in_env(
        expansions, tmp_path, monkeypatch):
    from tests.test_chart_values import REFERENCES_VARIABLE, references_dir

    jobs = _build_jobs(expansions)
    assert {case.split('[')[0] for case, _job in jobs} == set(ROOT_PIPELINES)  # every pipeline's build job
    for case, job in jobs:
        steps = job["steps"]
        index = {
            "setup": next(i for i, s in enumerate(steps) if s.get("script") == "make setup"),
            "helm": next(i for i, s in enumerate(steps) if "HELM_SHA256" in (s.get("env") or {})),
            "references": next(i for i, s in enumerate(steps) if "chart_references.py" in step_script(s)),
            "test": next(i for i, s in enumerate(steps) if s.get("script") == "make test"),
        }
        resolve = [i for i, s in enumerate(steps) if "record_versions.py release-staging" in step_script(s)]
        assert index["setup"] < index["helm"] < index["references"] < index["test"], (case, index)
        assert all(i < index["references"] for i in resolve), case  # the re-resolved versions are the ones pulled
        references, test = steps[index["references"]], steps[index["test"]]
        folder = "$(Agent.TempDirectory)/chart-references"
        assert references["env"][REFERENCES_VARIABLE] == test["env"][REFERENCES_VARIABLE] == folder, case
        assert '--out "$CHART_REFERENCES"' in step_script(references), case
        # Both run exactly when the tests run (runTests=false skips both; a failed pull stops make test).
        for status in ("Succeeded", "Failed"):
            assert condition_holds(references.get("condition"), {}, status=status) == condition_holds(
                test.get("condition"), {}, status=status), (case, status)
    # The step itself, as the agent runs it (in the checkout, with the venv's python), writes the folder that
    # make test's env names, and tests/test_chart_values.py reads it from there.
    _case, job = next((c, j) for c, j in jobs if condition_holds(
        next(s for s in j["steps"] if s.get("script") == "make test").get("condition"), {}))
    steps = job["steps"]
    references = next(s for s in steps if "chart_references.py" in step_script(s))
    test = next(s for s in steps if s.get("script") == "make test")
    work = tmp_path / "work"
    _stub(work / ".venv/bin", "python", f'exec "{sys.executable}" "$@"\n')
    (work / "pipelines").symlink_to(REPO_ROOT / "pipelines")
    (tmp_path / "agent-tmp").mkdir()
    macros = {**_macros(tmp_path, work), "Build.SourcesDirectory": str(work)}
    env = {"PATH": f"{_stub_helm(tmp_path)}:{os.environ['PATH']}", "HOME": str(tmp_path),
           **_step_env(references, macros)}
    result = run_inline_script(references, macros, env, cwd=work)
    assert result.returncode == 0, result.stdout + result.stderr
    monkeypatch.setenv(REFERENCES_VARIABLE, _step_env(test, macros)[REFERENCES_VARIABLE])
    assert references_dir() == tmp_path / "agent-tmp/chart-references"
    assert (references_dir() / "raw/2.0.2/values.yaml").is_file()


# --------------------------------------------------------------------------------------- 17.9 cluster first
def test_release_can_apply_the_cluster_first_then_the_rest(tmp_path, synthesized):
    pipeline = Expander().expand_pipeline(REPO_ROOT / "pipelines/release.yml", {
        "environment": "production-weu", "versions": "as-committed", "applyScope": "cluster-first"})
    stages = {s["stage"]: s for s in pipeline["stages"]}
    assert list(stages) == ["check", "build", "plan_production_weu_cluster", "apply_production_weu_cluster",
                            "plan_production_weu", "apply_production_weu"]
    full = stages["plan_production_weu"]
    assert full["dependsOn"] == ["plan_production_weu_cluster", "apply_production_weu_cluster"]
    for cluster_apply, runs in (("Succeeded", True), ("Skipped", True), ("Failed", False), ("Canceled", False)):
        deps = {"plan_production_weu_cluster": {"result": "Succeeded"},
                "apply_production_weu_cluster": {"result": cluster_apply}}
        assert condition_holds(full["condition"], PUSH_MAIN, deps) is runs, cluster_apply
    (cluster_plan,) = [s for _st, job in walk_jobs({"stages": [stages["plan_production_weu_cluster"]]})
                       for s in job_steps(job) if (s.get("env") or {}).get("TF_ACTION")]
    assert cluster_plan["env"]["TF_SCOPE"] == "cluster"
    cluster_steps = [s for _st, job in walk_jobs({"stages": [stages["plan_production_weu_cluster"]]})
                     for s in job_steps(job)]
    assert not [s for s in cluster_steps if (s.get("env") or {}).get("TEMPLATE_SOURCE")], (
        "the cluster round plans no helm_release: no chart check (the registry may not exist yet)")
    # The script targets exactly the stack's AKS cluster and node pools.
    work, bin_dir = tmp_path / "work", tmp_path / "bin"
    shutil.copytree(synthesized.outdir / "stacks" / "production-weu", work / "cdktf.out/stacks/production-weu")
    _stub(bin_dir, "terraform", f'echo "$*" >> "{tmp_path}/tf.log"\n'
          'case "$1" in plan) touch tfplan; exit 2;; show) echo "Plan: 3 to add";; esac\n')
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path), **_step_env(cluster_plan, {})}
    result = run_inline_script(cluster_plan, _macros(tmp_path), env)
    assert result.returncode == 0, result.stdout + result.stderr
    (plan_call,) = [c for c in (tmp_path / "tf.log").read_text().splitlines() if c.startswith("plan ")]
    targets = sorted(a for a in plan_call.split() if a.startswith("-target="))
    expected = sorted(f"-target={kind}.{key}" for kind in ("azurerm_kubernetes_cluster",
                                                           "azurerm_kubernetes_cluster_node_pool",
                                                           "azurerm_container_registry")
                      for key in synthesized.resources("production-weu", kind))
    assert targets == expected and len(expected) >= 3
    assert "##vso[task.setvariable variable=planBlob;isOutput=true]production-weu-cluster-x-x.tar.gz" in result.stdout
    # 13.5: the plan stays on the agent for steps/plan-store.yml; nothing goes to the artifact staging directory.
    assert (tmp_path / "agent-tmp/plan/plan.tar.gz").is_file() and not (tmp_path / "staging").exists()
    assert not (work / "cdktf.out/stacks/production-weu/tfplan").exists()


# --------------------------------------------------------------------------------------- 17.5 / 17.6 real Terraform
def _terraform() -> str:
    found = shutil.which("terraform")
    assert found, "these tests run the real Terraform CLI: put terraform >= 1.11 on the PATH"
    return found


def _fake_stack(work: Path, state: Path, seconds: int) -> Path:
    """A stack Terraform can plan and apply offline: a local backend (with its lock) and one terraform_data
    whose local-exec provisioner takes ``seconds``."""
    stack = work / "cdktf.out/stacks/dev"
    stack.mkdir(parents=True, exist_ok=True)
    (stack / "cdk.tf.json").write_text(json.dumps({
        "terraform": {"backend": {"local": {"path": str(state)}}},
        "resource": {"terraform_data": {"slow": {
            "input": "v1", "provisioner": [{"local-exec": {"command": f"echo provisioning; sleep {seconds}"}}]}}},
    }))
    return stack


def _terraform_step(action: str, **parameters) -> dict:
    body = Expander().instantiate(TEMPLATES_DIR / "steps/terraform.yml",
                                  {"environment": "dev", "action": action, **parameters})
    return next(s for s in body["steps"] if s.get("name") == "terraform")


def _run_terraform_step(step: dict, tmp_path: Path, work: Path, **overrides):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **_step_env(step, {"Build.BuildId": "7"}),
           **overrides}
    script = ANY_MACRO.sub(lambda m: _macros(tmp_path, work)[m.group(1)], step_script(step))
    return subprocess.Popen(["bash", "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=tmp_path)


def _wait_for(path: Path, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file() and text in path.read_text():
            return
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared in {path}")


def test_a_cancelled_apply_lets_terraform_write_its_state_and_release_the_lock(tmp_path):
    """The agent's cancel reaches the Bash@3 step as SIGTERM (Tasks/BashV3/bash.ts); the step forwards one
    SIGINT to Terraform (real Terraform here), which stops, writes the state and releases the lock."""
    _terraform()
    work, state = tmp_path / "work", tmp_path / "state/terraform.tfstate"
    state.parent.mkdir()
    stack = _fake_stack(work, state, seconds=30)
    plan = _run_terraform_step(_terraform_step("plan"), tmp_path, work)
    out, _ = plan.communicate(timeout=120)
    assert plan.returncode == 0, out
    assert "variable=changes;isOutput=true]true" in out
    apply = _run_terraform_step(_terraform_step("apply"), tmp_path, work)
    log = tmp_path / "agent-tmp/terraform-logs-dev/apply.txt"
    _wait_for(log, "provisioning")
    assert (state.parent / ".terraform.tfstate.lock.info").exists(), "the apply holds the state lock"
    apply.send_signal(signal.SIGTERM)  # what Bash@3 sends on the agent's SIGINT
    out, _ = apply.communicate(timeout=60)
    assert apply.returncode == 1
    assert "cancel received - Terraform was asked once (SIGINT)" in out
    assert out.rstrip().splitlines()[-1].startswith(
        "##vso[task.logissue type=error]dev: terraform apply cancelled; Terraform stopped (exit ")
    assert "Interrupt received" in log.read_text(), "Terraform itself must have received the SIGINT"
    assert not (state.parent / ".terraform.tfstate.lock.info").exists(), "the state lock was not released"
    assert "terraform_data" in state.read_text(), "the interrupted apply wrote its state"
    relock = subprocess.run([_terraform(), "plan", "-input=false", "-no-color", "-lock-timeout=1s"],
                            cwd=stack, capture_output=True, text=True, timeout=120)
    assert relock.returncode == 0, relock.stdout + relock.stderr


def test_jobs_give_terraform_time_to_release_the_lock_on_cancel(expansions):
    """PROCESS_SIGINT_TIMEOUT (ms, agent knob; default 7500, then SIGTERM 2500 ms later a kill) long enough for
    an AKS operation in flight, and the job's cancel timeout longer still."""
    seen = 0
    for case, (pipeline, _) in expansions.items():
        for environment, action, _before, _step in terraform_jobs(pipeline):
            job = next(j for _s, j in walk_jobs(pipeline) if _step in job_steps(j))
            sigint = int(job["variables"]["PROCESS_SIGINT_TIMEOUT"])
            sigterm = int(job["variables"]["PROCESS_SIGTERM_TIMEOUT"])
            assert sigint >= (30 if action == "apply" else 10) * 60_000, (case, environment)
            assert job["cancelTimeoutInMinutes"] * 60_000 > sigint + sigterm, (case, environment)
            seen += 1
    assert seen >= len(expansions) - 1


def test_a_drift_check_during_an_apply_is_skipped_with_a_warning(tmp_path):
    """While an apply holds the state lock, the drift job waits lockTimeout (bounded), then reports
    "skipped: apply in progress" as a warning - never -lock=false, never a failure."""
    terraform = _terraform()
    work, state = tmp_path / "work", tmp_path / "state/terraform.tfstate"
    state.parent.mkdir()
    holder = _fake_stack(tmp_path / "holder", state, seconds=40)
    _fake_stack(work, state, seconds=40)
    subprocess.run([terraform, "init", "-input=false", "-no-color"], cwd=holder, check=True, capture_output=True)
    with (tmp_path / "holder.log").open("w") as log:
        apply = subprocess.Popen([terraform, "apply", "-auto-approve", "-input=false", "-no-color"], cwd=holder,
                                 stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for(tmp_path / "holder.log", "provisioning")
        step = _terraform_step("drift", lockTimeout="2s")
        assert "-lock=false" not in step_script(step)
        drift = _run_terraform_step(step, tmp_path, work)
        out, _ = drift.communicate(timeout=120)
    finally:
        apply.send_signal(signal.SIGINT)
        apply.wait(timeout=60)
    assert drift.returncode == 0, out
    assert ("##vso[task.logissue type=warning]dev: skipped: apply in progress (state locked for more than 2s); "
            "the next drift check covers it") in out
    assert "##vso[task.complete result=SucceededWithIssues;]skipped: apply in progress" in out
    assert "Error acquiring the state lock" in (tmp_path / "agent-tmp/terraform-logs-dev/drift.txt").read_text()
