"""The Azure Pipelines of this repository (docs/pipelines.md): schema, templates, apply safety, coverage.

Files that use template expressions are schema-checked in their expanded form, for every value their runtime
parameters allow (tests/pipelines_helpers.py models the expansion and refuses what it does not model).
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path

import pytest

from tests.pipelines_helpers import (
    REPO_ROOT,
    ROOT_PIPELINES,
    SCHEMA_PATH,
    SERVICE_CONSUMER,
    TEMPLATES_DIR,
    Expander,
    ExpansionError,
    all_pipeline_files,
    apply_problems,
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
    reference_problems,
    rel,
    run_inline_script,
    runtime_combinations,
    schema_problems,
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
    if not SCHEMA_PATH.is_file():
        pytest.skip(
            f"the Azure Pipelines schema is absent: {SCHEMA_PATH} (shared/schemas beside the repository)"
        )


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
    assert applies >= 1 + len(runtime_combinations(REPO_ROOT / "pipelines/release.yml"))


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
        if name.startswith("service-build"):
            continue
        synths = [
            step
            for _, job in walk_jobs(pipeline)
            for step in job_steps(job)
            if "make synth" in step_script(step)
        ]
        assert len(synths) == 1, name


# --------------------------------------------------------------------------------------------- coverage
def test_pipeline_targets_are_the_stacks_but_bootstrap(app_targets):
    from infra.app import stack_names

    assert app_targets == set(stack_names()) - {"bootstrap"}


def test_release_can_deploy_exactly_the_pipeline_targets(app_targets):
    params = {
        p.name: p for p in declared_parameters(load_yaml(REPO_ROOT / "pipelines/release.yml"), "release")
    }
    assert (
        coverage_problems(set(params["environment"].values), app_targets, "release.yml environment values")
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


def test_service_build_records_versions_only_from_main_and_never_for_pull_requests(expansions):
    pipeline, _ = expansions["service-build (example consumer)"]
    record = next(s for s in pipeline["stages"] if s["stage"] == "record")
    assert "ne(variables['Build.Reason'], 'PullRequest')" in record["condition"]
    assert "refs/heads/main" in record["condition"]
    scripts = "\n".join(step_script(s) for _, job in walk_jobs(pipeline) for s in job_steps(job))
    assert "infra versions bump" in scripts
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


def test_identity_check_reports_a_wrong_connection_and_a_secret():
    step = {
        "task": "AzureCLI@2",
        "inputs": {"azureSubscription": "shared", "inlineScript": "terraform plan"},
        "env": {"TF_ENVIRONMENT": "dev", "TF_ACTION": "plan", "ARM_CLIENT_SECRET": "$(secret)"},
    }
    problems = identity_problems({"jobs": [{"job": "j", "steps": [step]}]}, "bad")
    assert any("azure-platform-dev" in p for p in problems)
    assert any("ARM_USE_OIDC=true" in p for p in problems)
    assert any("ARM_CLIENT_SECRET" in p for p in problems)


def test_cluster_access_checks_report_a_job_without_kubelogin_kubeconfig_or_helm_login():
    terraform = {
        "task": "AzureCLI@2",
        "inputs": {"azureSubscription": "azure-platform-onprem", "inlineScript": "terraform plan"},
        "env": {"TF_ENVIRONMENT": "onprem", "TF_ACTION": "plan"},
    }
    bare = {"jobs": [{"job": "plan", "steps": [{"script": "tar -xzf cdktf.out.tar.gz"}, terraform]}]}
    assert kubelogin_problems(bare, "bad") == [
        "bad: plan onprem runs Terraform without installing kubelogin first"
    ]
    assert kubeconfig_problems(bare, "bad", {"onprem": "kubeconfig_path"}) == [
        "bad: plan onprem does not download secure file kubeconfig-onprem"
    ]
    assert helm_login_problems(bare, "bad", {"onprem"}) == [
        "bad: plan onprem runs Terraform without logging helm in to its chart registries"
    ]
    old_style = {
        "jobs": [
            {
                "job": "plan",
                "steps": [
                    {"task": "KubeloginInstaller@0", "inputs": {"kubeloginVersion": "latest"}},
                    {"task": "DownloadSecureFile@1", "name": "kc",
                     "inputs": {"secureFile": "kubeconfig-onprem"}},
                    {"bash": 'echo "##vso[task.setvariable variable=KUBE_CONFIG_PATH]$(kc.secureFilePath)"'},
                    {"task": "AzureCLI@2",
                     "inputs": {"azureSubscription": "shared",
                                "inlineScript": "az acr login -n x | helm registry login x"}},
                    {"script": "tar -xzf cdktf.out.tar.gz"},
                    terraform,
                ],
            }
        ]
    }
    assert kubelogin_problems(old_style, "old") == [
        "old: plan onprem installs kubelogin 'latest'; pin an exact release (v0.2.19)"
    ]
    assert kubeconfig_problems(old_style, "old", {"onprem": "kubeconfig_path"}) == [
        "old: plan onprem does not chmod 600 the kubeconfig",
        "old: plan onprem does not export TF_VAR_kubeconfig_path = the kubeconfig",
    ]
    problems = helm_login_problems(old_style, "old", {"onprem"})
    assert "old: plan onprem: the helm login must run in AzureCLI@2 as azure-platform-onprem" in problems
    assert "old: plan onprem: the helm login lacks --expose-token" in problems
    assert "old: plan onprem: the helm login runs before the synthesized stacks are unpacked" in problems
    assert "old: plan onprem: the Terraform step may read another helm registry config" in problems
