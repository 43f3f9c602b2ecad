"""ClusterConnection, kubelogin and the helm/kubernetes providers built from them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import cdktf
import pytest

from building_blocks.kubernetes.connection import AKS_AAD_SERVER_ID, ClusterConnection, ExecAuth, kubelogin
from building_blocks.kubernetes.providers import KubernetesProviders
from tests.blocks.kubernetes_helpers import HOST, PEM, new_stack, synth

PACKAGE = Path(__file__).resolve().parents[2] / "building_blocks" / "kubernetes"
KUBELOGIN_ARGS = ["get-token", "--login", "azurecli", "--server-id", AKS_AAD_SERVER_ID]


# --- independence from azurerm --------------------------------------------------------------------


def test_no_module_of_the_layer_imports_azurerm():
    offenders = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [
                f"{path.name}: {n}"
                for n in names
                if "azurerm" in n
                or (
                    n.startswith("building_blocks.")
                    and not n.startswith(("building_blocks.kubernetes", "building_blocks.naming"))
                )
            ]
    assert offenders == []


def test_importing_the_whole_layer_loads_no_azurerm_module():
    modules = sorted(
        f"building_blocks.kubernetes.{p.stem}" for p in PACKAGE.glob("*.py") if p.stem != "__init__"
    )
    code = (
        "import sys; from infra import runtime; runtime.prepare(); import importlib\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(n for n in sys.modules if 'azurerm' in n))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=PACKAGE.parents[1],
        timeout=120,
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert len(modules) >= 10  # every module was imported, not an empty list


# --- kubelogin ------------------------------------------------------------------------------------


def test_kubelogin_defaults_to_the_azure_cli_session_and_the_aks_server_id():
    auth = kubelogin()
    assert auth.command == "kubelogin"
    assert list(auth.args) == KUBELOGIN_ARGS
    assert auth.api_version == "client.authentication.k8s.io/v1beta1"


def test_kubelogin_workload_identity():
    assert kubelogin(login="workloadidentity").args[:3] == ("get-token", "--login", "workloadidentity")


def test_kubelogin_rejects_an_unknown_login_mode():
    with pytest.raises(
        ValueError,
        match=r"kubelogin login = 'devicecode'; allowed: azurecli, azurepipelines, workloadidentity or a "
        r"Terraform reference to one",
    ):
        kubelogin(login="devicecode")  # type: ignore[arg-type]


def test_kubelogin_login_mode_may_be_a_terraform_reference():
    """The stacks pass a variable, so the pipeline selects azurepipelines without re-synthesizing."""
    auth = kubelogin(login="${var.kubelogin_login_mode}")
    assert auth.args[:3] == ("get-token", "--login", "${var.kubelogin_login_mode}")
    assert kubelogin(login="azurepipelines").args[2] == "azurepipelines"


def test_kubelogin_rejects_a_server_id_that_is_not_a_guid():
    with pytest.raises(ValueError, match="kubelogin server_id = 'aks'"):
        kubelogin(server_id="aks")


def test_exec_auth_rejects_an_empty_command():
    with pytest.raises(ValueError, match="ExecAuth command = ''"):
        ExecAuth(command="")


def test_exec_auth_rejects_an_unknown_api_version():
    with pytest.raises(ValueError, match="ExecAuth api_version = 'v1'"):
        ExecAuth(command="kubelogin", api_version="v1")


def test_exec_auth_rejects_a_list_of_args():
    with pytest.raises(ValueError, match="ExecAuth args"):
        ExecAuth(command="kubelogin", args=["get-token"])  # type: ignore[arg-type]


def test_exec_auth_rejects_a_bad_env_name():
    with pytest.raises(ValueError, match="ExecAuth env 'A-B'"):
        ExecAuth(command="kubelogin", env={"A-B": "1"})


# --- ClusterConnection ----------------------------------------------------------------------------


def test_connection_rejects_both_shapes():
    with pytest.raises(ValueError, match="not both"):
        ClusterConnection(
            host=HOST,
            cluster_ca_certificate=PEM,
            exec_auth=kubelogin(),
            config_path="~/.kube/config",
            config_context="lab",
        )


def test_connection_rejects_nothing():
    with pytest.raises(ValueError, match="ClusterConnection sets nothing"):
        ClusterConnection()


def test_connection_rejects_host_without_exec_auth():
    with pytest.raises(ValueError, match=r"but not \['exec_auth'\]"):
        ClusterConnection(host=HOST, cluster_ca_certificate=PEM)


def test_connection_rejects_a_plain_http_host():
    with pytest.raises(ValueError, match="ClusterConnection host = 'http://cluster'"):
        ClusterConnection.api_server(host="http://cluster", cluster_ca_certificate=PEM, exec_auth=kubelogin())


def test_connection_rejects_a_base64_ca_certificate():
    with pytest.raises(ValueError, match=r"cluster_ca_certificate = 'LS0tLS1CRUdJTi'.*Fn.base64decode"):
        ClusterConnection.api_server(
            host=HOST, cluster_ca_certificate="LS0tLS1CRUdJTi", exec_auth=kubelogin()
        )


def test_connection_rejects_an_exec_auth_that_is_not_one():
    with pytest.raises(ValueError, match="exec_auth = 'kubelogin'"):
        ClusterConnection.api_server(host=HOST, cluster_ca_certificate=PEM, exec_auth="kubelogin")  # type: ignore[arg-type]


def test_connection_rejects_an_absolute_kubeconfig_path():
    with pytest.raises(ValueError, match=r"config_path = '/home/me/.kube/config' is absolute"):
        ClusterConnection.kubeconfig(config_path="/home/me/.kube/config", config_context="lab")


def test_connection_rejects_a_kubeconfig_without_context():
    with pytest.raises(ValueError, match="config_context = ''"):
        ClusterConnection.kubeconfig(config_path="~/.kube/config", config_context="")


def test_connection_accepts_references():
    stack = new_stack()
    host = cdktf.TerraformVariable(stack, "host", type="string").string_value
    ca = cdktf.TerraformVariable(stack, "ca", type="string").string_value
    connection = ClusterConnection.api_server(host=host, cluster_ca_certificate=ca, exec_auth=kubelogin())
    assert connection.uses_kubeconfig is False


# --- KubernetesProviders --------------------------------------------------------------------------


def test_providers_from_host_ca_and_kubelogin():
    stack = new_stack()
    KubernetesProviders(
        stack,
        "k8s",
        connection=ClusterConnection.api_server(host=HOST, cluster_ca_certificate=PEM, exec_auth=kubelogin()),
    )
    providers = synth(stack)["provider"]
    exec_block = {
        "api_version": "client.authentication.k8s.io/v1beta1",
        "command": "kubelogin",
        "args": KUBELOGIN_ARGS,
    }
    assert providers["helm"] == [
        {"kubernetes": {"host": HOST, "cluster_ca_certificate": PEM, "exec": exec_block}}
    ]
    assert providers["kubernetes"] == [{"host": HOST, "cluster_ca_certificate": PEM, "exec": [exec_block]}]


def test_providers_carry_no_static_credential():
    stack = new_stack()
    KubernetesProviders(
        stack,
        "k8s",
        connection=ClusterConnection.api_server(host=HOST, cluster_ca_certificate=PEM, exec_auth=kubelogin()),
    )
    providers = synth(stack)["provider"]
    for block in (providers["helm"][0]["kubernetes"], providers["kubernetes"][0]):
        assert not {"token", "password", "client_key", "client_certificate", "insecure"} & set(block)


def test_providers_from_a_kubeconfig_context_variable():
    stack = new_stack()
    path = cdktf.TerraformVariable(stack, "kubeconfig_path", type="string", default="~/.kube/config")
    KubernetesProviders(
        stack,
        "k8s",
        connection=ClusterConnection.kubeconfig(config_path=path.string_value, config_context="onprem-lab"),
    )
    doc = synth(stack)
    expected = {"config_path": "${var.kubeconfig_path}", "config_context": "onprem-lab"}
    assert doc["provider"]["helm"] == [{"kubernetes": expected}]
    assert doc["provider"]["kubernetes"] == [expected]


def test_providers_reject_something_that_is_not_a_connection():
    with pytest.raises(ValueError, match="KubernetesProviders connection = 'aks'"):
        KubernetesProviders(new_stack(), "k8s", connection="aks")  # type: ignore[arg-type]
