"""The Azure Pipelines of this repository (docs/pipelines.md): schema, templates, apply safety, coverage.

Files that use template expressions are schema-checked in their expanded form, for every value their runtime
parameters allow (tests/pipelines_helpers.py models the expansion and refuses what it does not model).
"""

from __future__ import annotations

import copy
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
    identity_problems,
    job_steps,
    load_yaml,
    reference_problems,
    rel,
    runtime_combinations,
    schema_problems,
    step_script,
    targeted_environments,
    template_kind,
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
