"""`make validate` inside `make test`: every synthesized stack through `terraform init -backend=false` +
`terraform validate` with the real azurerm provider (the mirror here, the registry in the pipeline), a doctored
stack that the provider itself rejects, the azurerm_part extraction, and the one-line errors of the entry point.

Sources: the mirror's README (../shared/terraform-mirror/README.md: azurerm 4.55.0 built from tag v4.55.0, and the
measured `expected sku_name to be one of ["standard" "premium"], got platinum`); the Key Vault's validator in
hashicorp/terraform-provider-azurerm v4.55.0, internal/services/keyvault/key_vault_resource.go (`sku_name`:
validation.StringInSlice of "standard", "premium").
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import subprocess
import sys

import pytest

from infra import validate
from tests.conftest import REPO_ROOT, shared, stack_names
from tests.test_bad_input import assert_one_line_error

KEY_VAULT_SKU_MESSAGE = 'expected sku_name to be one of ["standard" "premium"], got platinum'


@pytest.fixture(scope="session")
def source() -> validate.Source:
    """INFRA_VALIDATE / INFRA_TF_MIRROR as `make validate` reads them: the mirror here, the registry elsewhere."""
    return validate.resolve_source()


def _repository_status() -> list[str]:
    """Every changed, untracked or ignored path of the clone (git status --porcelain --ignored)."""
    return subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=normal"], cwd=REPO_ROOT,
                          capture_output=True, text=True, check=True).stdout.splitlines()


def _stored(results: list[validate.Result]) -> list[dict]:
    return [dataclasses.asdict(result) for result in results]


def _loaded(stored: list[dict]) -> list[validate.Result]:
    return [validate.Result(**{**r, "diagnostics": [validate.Diagnostic(**d) for d in r["diagnostics"]]})
            for r in stored]


@pytest.fixture(scope="session")
def validated(synthesized, source, tmp_path_factory) -> dict:
    """Every stack validated once per session: with pytest-xdist the first worker to ask validates, the others
    read its results (tests/conftest.py ``shared``)."""

    def build(folder):
        before = _repository_status()
        results = validate.validate_stacks(synthesized.stacks, mode=source)
        after = _repository_status()
        print("\n" + validate.table(results))
        (folder / "validated.json").write_text(json.dumps({"results": _stored(results),
                                                           "repository": [before, after]}))

    stored = json.loads((shared(tmp_path_factory, f"validate-{source.mode}", build) / "validated.json").read_text())
    before, after = stored["repository"]
    return {"results": {r.name: r for r in _loaded(stored["results"])}, "repository": (before, after)}


def _azurerm_blocks(stack: dict) -> int:
    return sum(len(named) for kind in ("resource", "data") for type_, named in stack.get(kind, {}).items()
               if type_.startswith("azurerm_"))


@pytest.mark.parametrize("name", stack_names())
def test_stack_passes_terraform_validate(validated, synthesized, source, name):
    result = validated["results"][name]
    assert result.mode == source.mode
    assert [str(d) for d in result.errors] == []
    assert result.valid
    stack = synthesized.stacks[name]
    if source.mode == "mirror":  # nothing azurerm was lost on the way, everything else was left out
        assert result.kept == _azurerm_blocks(stack)
        assert result.kept + result.replaced == validate.count_blocks(stack)
    else:
        assert (result.kept, result.replaced) == (validate.count_blocks(stack), 0)


@pytest.fixture(scope="session")
def doctored(synthesized, source, tmp_path_factory):
    """dev with two faults the provider and Terraform must find: a Key Vault sku_name outside the provider's
    StringInSlice, and a tag that references an attribute the resource group's schema does not have. One run
    per session (shared by the xdist workers like ``validated``)."""
    stack = copy.deepcopy(synthesized.stacks["dev"])
    (logical_id, key_vault), = stack["resource"]["azurerm_key_vault"].items()
    key_vault["sku_name"] = "platinum"
    # on another resource: an expression error stops Terraform before it asks the provider about that resource
    (_, network), = stack["resource"]["azurerm_virtual_network"].items()
    network["tags"] = {**network.get("tags", {}),
                       "probe": "${azurerm_resource_group.resource_group.no_such_attribute}"}

    def build(folder):
        results = validate.validate_stacks({"dev-doctored": stack}, mode=source, jobs=1)
        (folder / "doctored.json").write_text(json.dumps(_stored(results)))

    results = _loaded(json.loads((shared(tmp_path_factory, f"validate-doctored-{source.mode}", build)
                                  / "doctored.json").read_text()))
    return results[0], validate.report(results), f"azurerm_key_vault.{logical_id}"


def test_a_key_vault_sku_the_provider_rejects_fails_with_the_providers_message(doctored):
    result, _, address = doctored
    assert not result.valid
    assert [(d.summary, d.address) for d in result.errors if d.address] == [(KEY_VAULT_SKU_MESSAGE, address)]


def test_a_reference_to_an_attribute_the_schema_lacks_fails(doctored):
    """References between kept resources are checked against the provider's schema (Terraform's own message)."""
    result, _, _ = doctored
    assert sorted(d.summary for d in result.errors) == sorted([KEY_VAULT_SKU_MESSAGE, "Unsupported attribute"])
    unsupported, = (d for d in result.errors if d.summary == "Unsupported attribute")
    assert 'exported attribute named "no_such_attribute"' in unsupported.detail
    assert "azurerm_virtual_network" in unsupported.where


def test_a_failing_stack_prints_the_providers_diagnostic_and_exits_1(doctored):
    """What `make validate` prints for an invalid stack: the table, then stack: error: summary [address, line]."""
    _, report, address = doctored
    assert report.exit_code == 1
    assert f"dev-doctored: error: {KEY_VAULT_SKU_MESSAGE} [{address}, main.tf.json:" in report.text
    assert "INVALID (2 errors)" in report.text


# ------------------------------------------------------------------------------------------- azurerm_part

CONFIG = {
    "//": {"metadata": {"stackName": "unit"}},
    "terraform": {
        "backend": {"azurerm": {"key": "unit.tfstate"}},
        "required_providers": {
            "azurerm": {"source": "azurerm", "version": "4.55.0"},
            "helm": {"source": "helm", "version": "3.1.1"},
            "random": {"source": "hashicorp/random", "version": "3.7.2"},
            "time": {"source": "hashicorp/time", "version": "0.13.1"},
        },
        "required_version": ">= 1.11.0, < 2.0.0",
    },
    "provider": {
        "azurerm": [{"features": [{}], "subscription_id": "11111111-1111-1111-1111-111111111111"},
                    {"alias": "dns_parent", "features": [{}],
                     "subscription_id": "44444444-4444-4444-4444-444444444444"}],
        "helm": [{"kubernetes": {"host": "${azurerm_kubernetes_cluster.aks.kube_config[0].host}"}}],
        "random": [{}],
    },
    "variable": {"location": {"type": "string", "default": "westeurope"}},
    "locals": {"suffix": "${random_string.suffix.result}", "names": {"random_password": {"admin": "a"}}},
    "data": {
        "azurerm_dns_zone": {"parent": {"name": "example.com", "resource_group_name": "rg-dns",
                                        "provider": "azurerm.dns_parent"}},
        "kubernetes_namespace_v1": {"ns": {"metadata": {"name": "apps"}}},
    },
    "resource": {
        "azurerm_resource_group": {"rg": {"name": "rg-unit-${local.suffix}", "location": "${var.location}"}},
        "azurerm_dns_zone": {"zone": {"name": "unit.example.com",
                                      "resource_group_name": "${azurerm_resource_group.rg.name}"}},
        "azurerm_dns_ns_record": {"delegation": {
            "provider": "azurerm.dns_parent",
            "name": "unit", "ttl": 300,
            "zone_name": "${data.azurerm_dns_zone.parent.name}",
            "resource_group_name": "${data.azurerm_dns_zone.parent.resource_group_name}",
            "records": "${tolist(azurerm_dns_zone.zone.name_servers)}",
        }},
        "azurerm_key_vault_secret": {"password": {
            "name": "password",
            "value": "${random_password.admin.result}",
            "key_vault_id": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv",
            "content_type": "${format(\"random_password.admin %s\", random_password.admin.length)}",
            "tags": {
                "release": "${helm_release.ingress.metadata[0].name}-${data.kubernetes_namespace_v1.ns.id}",
                "escaped": "$${random_password.admin.result}",
                "literal": "random_password.admin.result",
                "attribute": "${local.names.random_password.admin}",
                "if": "%{ if random_password.admin.length > 3 }long%{ else }short%{ endif }",
                "for": "${join(\",\", [for n in helm_release.ingress[*].name : upper(n)])}",
                "object": "${jsonencode({ waited = time_sleep.wait.id, rg = azurerm_resource_group.rg.id })}",
                "module": "${module.legacy.value}",
            },
            "depends_on": ["azurerm_resource_group.rg", "helm_release.ingress", "time_sleep.wait",
                           "data.kubernetes_namespace_v1.ns", "module.legacy"],
            "lifecycle": {"ignore_changes": ["tags"],
                          "replace_triggered_by": ["random_password.admin", "azurerm_resource_group.rg.id"],
                          "precondition": [{"condition": "${random_password.admin.length >= 16}",
                                            "error_message": "too short"}]},
        }},
        "azurerm_user_assigned_identity": {"per_namespace": {
            "for_each": "${toset(kubernetes_namespace_v1.apps[*].metadata[0].name)}",
            "name": "id-${each.value}", "location": "${var.location}",
            "resource_group_name": "${azurerm_resource_group.rg.name}",
        }},
        "random_password": {"admin": {"length": 24}},
        "random_string": {"suffix": {"length": 4, "special": False}},
        "helm_release": {"ingress": {"name": "ingress", "chart": "ingress-nginx",
                                     "depends_on": ["azurerm_resource_group.rg"]}},
        "kubernetes_namespace_v1": {"apps": {"metadata": {"name": "apps"}}},
        "time_sleep": {"wait": {"create_duration": "30s"}},
    },
    "module": {"legacy": {"source": "./legacy"}},
    "output": {"zone": {"value": "${azurerm_dns_zone.zone.name_servers}"},
               "password": {"value": "${random_password.admin.result}", "sensitive": True}},
}


@pytest.fixture
def part():
    original = copy.deepcopy(CONFIG)
    extracted = validate.azurerm_part(CONFIG)
    assert original == CONFIG, "azurerm_part must not change its input"
    return extracted


def test_only_azurerm_blocks_are_kept(part):
    assert set(part["resource"]) == {"azurerm_resource_group", "azurerm_dns_zone", "azurerm_dns_ns_record",
                                     "azurerm_key_vault_secret", "azurerm_user_assigned_identity"}
    assert set(part["data"]) == {"azurerm_dns_zone"}
    assert "module" not in part
    assert validate.count_blocks(CONFIG) - validate.count_blocks(part) == 7


def test_terraform_block_keeps_azurerm_and_drops_the_backend(part):
    assert part["terraform"] == {"required_providers": {"azurerm": {"source": "azurerm", "version": "4.55.0"}},
                                 "required_version": ">= 1.11.0, < 2.0.0"}


def test_azurerm_provider_blocks_keep_their_aliases_and_others_go(part):
    assert list(part["provider"]) == ["azurerm"]
    assert [p.get("alias") for p in part["provider"]["azurerm"]] == [None, "dns_parent"]
    assert part["resource"]["azurerm_dns_ns_record"]["delegation"]["provider"] == "azurerm.dns_parent"
    assert part["data"]["azurerm_dns_zone"]["parent"]["provider"] == "azurerm.dns_parent"


def test_references_to_left_out_objects_become_unknown_variables(part):
    secret = part["resource"]["azurerm_key_vault_secret"]["password"]
    tags = secret["tags"]
    assert secret["value"] == "${var.unknown__random_password__admin.result}"
    assert secret["content_type"] == \
        '${format("random_password.admin %s", var.unknown__random_password__admin.length)}'
    assert tags["release"] == ("${var.unknown__helm_release__ingress.metadata[0].name}-"
                               "${var.unknown__data__kubernetes_namespace_v1__ns.id}")
    assert tags["if"] == "%{ if var.unknown__random_password__admin.length > 3 }long%{ else }short%{ endif }"
    assert tags["for"] == '${join(",", [for n in var.unknown__helm_release__ingress[*].name : upper(n)])}'
    assert tags["object"] == ("${jsonencode({ waited = var.unknown__time_sleep__wait.id, "
                              "rg = azurerm_resource_group.rg.id })}")
    assert tags["module"] == "${var.unknown__module__legacy.value}"
    assert part["locals"] == {"suffix": "${var.unknown__random_string__suffix.result}",
                              "names": {"random_password": {"admin": "a"}}}
    identity = part["resource"]["azurerm_user_assigned_identity"]["per_namespace"]
    assert identity["for_each"] == "${toset(var.unknown__kubernetes_namespace_v1__apps[*].metadata[0].name)}"
    assert identity["name"] == "id-${each.value}"


def test_text_that_only_looks_like_a_reference_is_left_alone(part):
    tags = part["resource"]["azurerm_key_vault_secret"]["password"]["tags"]
    assert tags["escaped"] == "$${random_password.admin.result}"
    assert tags["literal"] == "random_password.admin.result"
    assert tags["attribute"] == "${local.names.random_password.admin}"
    assert part["resource"]["azurerm_dns_ns_record"]["delegation"]["records"] == \
        "${tolist(azurerm_dns_zone.zone.name_servers)}"


def test_unknown_variables_are_declared_without_default(part):
    unknown = {name: body for name, body in part["variable"].items() if name.startswith(validate.UNKNOWN_PREFIX)}
    assert sorted(unknown) == sorted([
        "unknown__random_password__admin", "unknown__random_string__suffix", "unknown__helm_release__ingress",
        "unknown__data__kubernetes_namespace_v1__ns", "unknown__kubernetes_namespace_v1__apps",
        "unknown__time_sleep__wait", "unknown__module__legacy"])
    assert all(body["type"] == "any" and "default" not in body for body in unknown.values())
    assert part["variable"]["location"] == CONFIG["variable"]["location"]


def test_meta_arguments_drop_what_points_at_left_out_objects(part):
    secret = part["resource"]["azurerm_key_vault_secret"]["password"]
    assert secret["depends_on"] == ["azurerm_resource_group.rg"]
    assert secret["lifecycle"]["ignore_changes"] == ["tags"]
    assert secret["lifecycle"]["replace_triggered_by"] == ["azurerm_resource_group.rg.id"]
    assert secret["lifecycle"]["precondition"] == [
        {"condition": "${var.unknown__random_password__admin.length >= 16}", "error_message": "too short"}]


def test_outputs_are_kept_only_when_they_reference_kept_things(part):
    assert part["output"] == {"zone": {"value": "${azurerm_dns_zone.zone.name_servers}"}}


def test_a_resource_belongs_to_the_provider_its_meta_argument_names():
    config = {"terraform": {"required_providers": {"azurerm": {"source": "hashicorp/azurerm"},
                                                   "legacy": {"source": "example/legacy"}}},
              "resource": {"azurerm_resource_group": {"a": {"name": "a", "location": "westeurope"},
                                                      "b": {"name": "b", "location": "westeurope",
                                                            "provider": "legacy.other"}}}}
    part = validate.azurerm_part(config)
    assert list(part["resource"]["azurerm_resource_group"]) == ["a"]


IMPORTS = {
    "terraform": {"required_providers": {"azurerm": {"source": "hashicorp/azurerm", "version": "4.55.0"},
                                         "random": {"source": "hashicorp/random", "version": "3.7.2"}}},
    "provider": {"azurerm": [{"features": [{}], "subscription_id": "11111111-1111-1111-1111-111111111111"}],
                 "random": [{}]},
    "resource": {
        "random_password": {"admin": {"length": 24}},
        "azurerm_resource_group": {"rg": {"name": "rg-unit", "location": "westeurope"}},
        "azurerm_key_vault_secret": {"admin": {
            "name": "admin", "value": "${random_password.admin.result}",
            "key_vault_id": "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-unit/providers/"
                            "Microsoft.KeyVault/vaults/kv-unit"}},
    },
    "import": [
        {"to": "random_password.admin", "id": "not-the-real-value"},
        {"to": "azurerm_resource_group.rg",
         "id": "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-unit"},
    ],
}


def test_an_import_configuration_keeps_the_azurerm_imports_and_validates(source):
    """What a recovery configuration looks like (azurerm + random, import blocks): the random import goes with
    its resource, the azurerm one stays, and the part passes terraform validate."""
    part = validate.azurerm_part(IMPORTS)
    assert part["import"] == [IMPORTS["import"][1]]
    assert set(part["resource"]) == {"azurerm_resource_group", "azurerm_key_vault_secret"}
    result = validate.terraform_validate(IMPORTS if source.mode == "mirror" else part, mode=source, name="imports")
    assert [str(d) for d in result.errors] == []
    assert result.valid


def test_the_extracted_part_of_a_mixed_configuration_validates(source, tmp_path):
    """The unit configuration's azurerm part through terraform: the unknown variables, the alias and the rewritten
    templates really validate. azurerm_part of it is itself (mirror mode applies it again), and the scratch is
    the given workdir."""
    part = validate.azurerm_part(CONFIG)
    assert validate.azurerm_part(part) == part
    result = validate.terraform_validate(part, mode=source, name="unit", workdir=tmp_path)
    assert [str(d) for d in result.errors] == []
    assert result.valid
    assert (result.kept, result.replaced) == (6, 0)
    assert json.loads((tmp_path / "config" / "main.tf.json").read_text()) == part
    assert (tmp_path / "config" / ".terraform.lock.hcl").exists()  # the lock file stays in the scratch


# --------------------------------------------------------------------------------------------- the sources

def test_cli_config_installs_azurerm_from_the_mirror_only(tmp_path):
    text = validate.cli_config(tmp_path)
    assert f'path    = "{tmp_path.resolve()}"' in text
    assert 'include = ["registry.terraform.io/hashicorp/azurerm"]' in text
    assert 'direct { exclude = ["registry.terraform.io/hashicorp/azurerm"] }' in text


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "infra.validate"], cwd=REPO_ROOT, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300, check=False)


CLOSED_PORT = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused at once


def test_no_mirror_and_no_registry_is_one_line(tmp_path):
    result = _run({"INFRA_VALIDATE": "auto", "INFRA_TF_MIRROR": str(tmp_path / "none"),
                   "INFRA_TF_REGISTRY": CLOSED_PORT})
    assert_one_line_error(result, "no provider source", f"no Terraform mirror holding hashicorp/azurerm at "
                          f"{tmp_path / 'none'}", "INFRA_TF_MIRROR", f"{CLOSED_PORT} is unreachable")


@pytest.mark.parametrize(("env", "fragments"), [
    ({"INFRA_VALIDATE": "mirror", "INFRA_TF_MIRROR": "/nonexistent/mirror"},
     ("INFRA_VALIDATE=mirror", "no Terraform mirror holding hashicorp/azurerm at /nonexistent/mirror")),
    ({"INFRA_VALIDATE": "registry", "INFRA_TF_REGISTRY": CLOSED_PORT},
     ("INFRA_VALIDATE=registry", f"{CLOSED_PORT} is unreachable")),
    ({"INFRA_VALIDATE": "offline"}, ("INFRA_VALIDATE='offline'", "allowed: auto, registry, mirror")),
    ({"INFRA_TERRAFORM": "/nonexistent/terraform"}, ("'/nonexistent/terraform' not found", ">= 1.11.0")),
    ({"INFRA_VALIDATE_JOBS": "0"}, ("INFRA_VALIDATE_JOBS='0'", "allowed: a whole number >= 1")),
])
def test_bad_settings_are_one_line(env, fragments, source):
    if "INFRA_VALIDATE" not in env:  # these need a working source to get past it
        env = {"INFRA_VALIDATE": source.mode, **env}
    assert_one_line_error(_run(env), *fragments)


def test_too_old_terraform_is_one_line(tmp_path, source):
    fake = tmp_path / "terraform"
    fake.write_text('#!/bin/sh\necho \'{"terraform_version": "1.10.5"}\'\n')
    fake.chmod(0o755)
    assert_one_line_error(_run({"INFRA_VALIDATE": source.mode, "INFRA_TERRAFORM": str(fake)}),
                          f"{fake} is Terraform 1.10.5", "it needs >= 1.11.0")


def test_validating_the_stacks_leaves_nothing_in_the_repository(validated):
    """No .terraform/, no .terraform.lock.hcl, no scratch folder: git sees the clone as it was before."""
    before, after = validated["repository"]
    assert after == before



@pytest.fixture
def registry_answering():
    """A stand-in for the registry's service discovery (https://registry.terraform.io/.well-known/terraform.json)."""
    import http.server
    import threading

    class Discovery(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b'{"providers.v1": "/v1/providers/"}'
            self.send_response(200 if self.path == "/.well-known/terraform.json" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Discovery)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_auto_takes_the_registry_when_there_is_no_mirror_and_it_answers(tmp_path, monkeypatch, registry_answering):
    monkeypatch.setenv("INFRA_TF_MIRROR", str(tmp_path / "none"))
    monkeypatch.setenv("INFRA_TF_REGISTRY", registry_answering)
    assert validate.resolve_source("auto") == validate.Source("registry")
    assert validate.resolve_source("registry") == validate.Source("registry")
    assert validate.resolve_source("auto", mirror=validate.DEFAULT_MIRROR) == validate.Source(
        "mirror", validate.DEFAULT_MIRROR.resolve())


def test_registry_mode_validates_the_whole_stack_with_the_callers_cli_config(synthesized, source, tmp_path,
                                                                            monkeypatch):
    """Registry mode leaves the stack and the caller's CLI configuration alone (a laptop may install providers
    through its own mirror). bootstrap needs only azurerm, so a CLI configuration pointing at the mirror stands in
    for the registry here; the plugin cache is the one given, outside the repository."""
    if source.mirror is None:  # in the pipeline the real registry is used by test_stack_passes_terraform_validate
        source = validate.Source("mirror", validate.mirror_path())
    rc = tmp_path / "laptop.tfrc"
    rc.write_text(validate.cli_config(source.mirror))
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(rc))
    monkeypatch.setenv("INFRA_TF_PLUGIN_CACHE", str(tmp_path / "cache"))
    stack = synthesized.stacks["bootstrap"]
    result = validate.terraform_validate(stack, mode=validate.Source("registry"), name="bootstrap",
                                         workdir=tmp_path / "scratch")
    assert [str(d) for d in result.errors] == []
    assert (result.mode, result.valid, result.replaced) == ("registry", True, 0)
    assert json.loads((tmp_path / "scratch" / "config" / "main.tf.json").read_text()) == stack  # backend too
    assert (tmp_path / "cache" / "registry.terraform.io" / "hashicorp" / "azurerm").is_dir()
