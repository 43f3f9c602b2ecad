"""Namespace and HelmChart: the hardening every release gets, and every error they raise."""

from __future__ import annotations

import pytest

from building_blocks.kubernetes.helm_chart import HelmChart
from building_blocks.kubernetes.namespace import Namespace
from tests.blocks.kubernetes_helpers import assert_hardened, new_stack, only, release_values, synth


def _chart(**overrides):
    stack = new_stack()
    namespace = Namespace(stack, "ns", name="tools")
    props = {
        "release_name": "tool",
        "chart": "tool",
        "repository": "https://charts.example.com",
        "version": "1.2.3",
        "namespace": namespace,
        **overrides,
    }
    return stack, HelmChart(stack, "tool", **props)


# --- Namespace ------------------------------------------------------------------------------------


def test_namespace_with_only_its_name():
    stack = new_stack()
    Namespace(stack, "ns", name="tools")
    assert only(synth(stack), "kubernetes_namespace_v1")["metadata"] == {
        "name": "tools",
        "labels": {
            "app.kubernetes.io/managed-by": "terraform",
            "pod-security.kubernetes.io/enforce": "baseline",
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/audit": "restricted",
        },
    }


def test_namespace_restricted_and_extra_labels():
    stack = new_stack()
    Namespace(stack, "ns", name="tools", pod_security="restricted", labels={"team": "platform"})
    labels = only(synth(stack), "kubernetes_namespace_v1")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["team"] == "platform"


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public", "kube-node-lease"])
def test_namespace_refuses_reserved_names(name):
    with pytest.raises(ValueError, match=f"Namespace name = '{name}' is reserved"):
        Namespace(new_stack(), "ns", name=name)


def test_namespace_refuses_an_invalid_name():
    with pytest.raises(ValueError, match="Namespace name = 'Tools_1'; allowed: a DNS-1123 label"):
        Namespace(new_stack(), "ns", name="Tools_1")


def test_namespace_refuses_an_unknown_pod_security_level():
    with pytest.raises(
        ValueError, match="pod_security = 'strict'; allowed: privileged, baseline, restricted"
    ):
        Namespace(new_stack(), "ns", name="tools", pod_security="strict")  # type: ignore[arg-type]


def test_namespace_refuses_overriding_the_pod_security_labels():
    with pytest.raises(ValueError, match="labels override"):
        Namespace(
            new_stack(), "ns", name="tools", labels={"pod-security.kubernetes.io/enforce": "privileged"}
        )


def test_namespace_refuses_an_invalid_label():
    with pytest.raises(ValueError, match="label 'team' = 'a b'"):
        Namespace(new_stack(), "ns", name="tools", labels={"team": "a b"})


# --- HelmChart: hardening -------------------------------------------------------------------------


def test_helm_chart_with_only_required_inputs_is_hardened():
    stack, _ = _chart()
    release = only(synth(stack), "helm_release")
    assert_hardened(release)
    assert release["name"] == "tool"
    assert release["chart"] == "tool"
    assert release["repository"] == "https://charts.example.com"
    assert release["version"] == "1.2.3"
    assert release["reset_values"] is True
    assert release["wait_for_jobs"] is True
    assert "values" not in release  # chart defaults


def test_helm_chart_namespace_is_a_reference_and_a_dependency():
    stack, _ = _chart()
    doc = synth(stack)
    (ns_id,) = doc["resource"]["kubernetes_namespace_v1"]
    release = only(doc, "helm_release")
    assert release["namespace"] == f"${{kubernetes_namespace_v1.{ns_id}.metadata[0].name}}"
    assert release["depends_on"] == [f"kubernetes_namespace_v1.{ns_id}"]


def test_helm_chart_values_are_json_of_typed_data():
    stack, _ = _chart(values={"b": [1, True, None], "a": {"x": "y"}})
    release = only(synth(stack), "helm_release")
    assert release["values"] == ['{"a": {"x": "y"}, "b": [1, true, null]}']
    assert release_values(release) == {"a": {"x": "y"}, "b": [1, True, None]}


def test_helm_chart_bounds_are_configurable():
    stack, _ = _chart(max_history=20, timeout_seconds=900, wait_for_jobs=False)
    release = only(synth(stack), "helm_release")
    assert_hardened(release, max_history=20, timeout=900)
    assert release["wait_for_jobs"] is False


def test_helm_chart_accepts_a_full_oci_reference_without_repository():
    stack, _ = _chart(chart="oci://registry.example.com/helm/tool", repository=None)
    assert only(synth(stack), "helm_release")["chart"] == "oci://registry.example.com/helm/tool"


# --- HelmChart: one test per error ----------------------------------------------------------------


@pytest.mark.parametrize(
    "version", ["", "latest", "^1.2.3", "~1.2", ">=1.0.0", "1.x", "*", "1.2", "1.2.3 || 2.0.0", None]
)
def test_helm_chart_refuses_an_unpinned_version(version):
    with pytest.raises(ValueError, match=r"version = .*; allowed: one exact chart version"):
        _chart(version=version)


@pytest.mark.parametrize("version", ["1.2.3", "v1.19.1", "0.9.3-rc.1", "1.0.0+build.7"])
def test_helm_chart_accepts_exact_versions(version):
    _chart(version=version)


def test_helm_chart_refuses_a_namespace_string():
    stack = new_stack()
    with pytest.raises(ValueError, match="namespace = 'default'; allowed: a Namespace construct"):
        HelmChart(
            stack,
            "tool",
            release_name="tool",
            chart="tool",
            repository="https://charts.example.com",
            version="1.2.3",
            namespace="default",
        )  # type: ignore[arg-type]


def test_helm_chart_refuses_a_bad_release_name():
    with pytest.raises(ValueError, match="release_name = 'Tool'"):
        _chart(release_name="Tool")


def test_helm_chart_refuses_a_release_name_longer_than_53():
    with pytest.raises(ValueError, match="at most 53"):
        _chart(release_name="a" * 54)


def test_helm_chart_refuses_a_missing_repository():
    with pytest.raises(ValueError, match="repository = None with chart 'tool'"):
        _chart(repository=None)


def test_helm_chart_refuses_a_plain_http_repository():
    with pytest.raises(ValueError, match=r"repository = 'http://charts.example.com'"):
        _chart(repository="http://charts.example.com")


def test_helm_chart_refuses_a_bad_chart_name():
    with pytest.raises(ValueError, match="chart = 'Tool Chart'"):
        _chart(chart="Tool Chart")


def test_helm_chart_refuses_yaml_string_values():
    with pytest.raises(ValueError, match="values = str; allowed: a mapping of typed Python data"):
        _chart(values="replicaCount: 2\n")


def test_helm_chart_refuses_values_that_are_not_json_data():
    with pytest.raises(ValueError, match="values are not JSON data"):
        _chart(values={"when": object()})


@pytest.mark.parametrize("max_history", [0, 21, True, 2.5])
def test_helm_chart_refuses_max_history_out_of_bounds(max_history):
    with pytest.raises(ValueError, match=r"max_history = .*; allowed: an integer from 1 to 20"):
        _chart(max_history=max_history)


@pytest.mark.parametrize("timeout", [0, 59, 3601])
def test_helm_chart_refuses_timeout_out_of_bounds(timeout):
    with pytest.raises(ValueError, match=r"timeout_seconds = .*; allowed: an integer from 60 to 3600"):
        _chart(timeout_seconds=timeout)
