"""A Kubernetes namespace, created explicitly, with Pod Security Admission labels. Never ``default``."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal, get_args

import cdktf
from cdktf_cdktf_provider_kubernetes.namespace_v1 import NamespaceV1, NamespaceV1Metadata
from constructs import Construct

PodSecurityLevel = Literal["privileged", "baseline", "restricted"]
POD_SECURITY_LEVELS: tuple[str, ...] = get_args(PodSecurityLevel)
# Namespaces the layer must never own or deploy into: the cluster's own, and `default`.
RESERVED_NAMESPACES: frozenset[str] = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
MANAGED_BY_LABEL = {"app.kubernetes.io/managed-by": "terraform"}


def validate_labels(owner: str, labels: Mapping[str, str]) -> None:
    """Raise ValueError naming ``owner`` when a key or value is not a valid Kubernetes label."""
    for key, value in labels.items():
        if not (isinstance(key, str) and _LABEL_KEY.match(key)) or not (
            isinstance(value, str) and _LABEL_VALUE.match(value)
        ):
            raise ValueError(
                f"{owner} label {key!r} = {value!r}; allowed: Kubernetes label keys (optional DNS "
                "prefix/, name ≤ 63) and values (≤ 63 letters, digits, '-', '_', '.')"
            )


class Namespace(Construct):
    """One namespace (``kubernetes_namespace_v1``) that releases, config maps and secrets go into.

    Pod Security Admission: ``enforce`` at ``pod_security`` (default ``baseline``: no privileged pods, no host
    namespaces or host paths) and ``warn``/``audit`` at ``restricted``, so violations of the stricter profile
    show up in kubectl output and the audit log before anyone tightens enforcement.

    Exposes ``resource`` (the namespace), ``name`` (a reference to its name: using it makes a resource depend
    on the namespace) and ``literal_name`` (the plain string, for validation and naming).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        pod_security: PodSecurityLevel = "baseline",
        labels: Mapping[str, str] | None = None,
        depends_on: Sequence[cdktf.ITerraformDependable] = (),
    ) -> None:
        """``name``: required, a DNS-1123 label that is not ``default`` or a ``kube-*`` namespace.
        ``pod_security`` (default ``baseline``): the enforced Pod Security Standard. ``labels`` (default
        none): added to the managed-by and pod-security labels (which they may not override). ``depends_on``
        (default none): what must exist first — everything in the namespace waits for it too."""
        super().__init__(scope, id_)
        if not isinstance(name, str) or not DNS1123_LABEL.match(name):
            raise ValueError(
                f"Namespace name = {name!r}; allowed: a DNS-1123 label (≤ 63 lowercase letters, "
                "digits and '-', starting and ending with a letter or digit)"
            )
        if name in RESERVED_NAMESPACES:
            raise ValueError(
                f"Namespace name = {name!r} is reserved; allowed: any other DNS-1123 label (never "
                f"{', '.join(sorted(RESERVED_NAMESPACES))})"
            )
        if pod_security not in POD_SECURITY_LEVELS:
            raise ValueError(
                f"Namespace {name!r} pod_security = {pod_security!r}; allowed: "
                f"{', '.join(POD_SECURITY_LEVELS)}"
            )
        extra = dict(labels or {})
        validate_labels(f"Namespace {name!r}", extra)
        fixed = {
            **MANAGED_BY_LABEL,
            "pod-security.kubernetes.io/enforce": pod_security,
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/audit": "restricted",
        }
        clashes = sorted(set(extra) & set(fixed))
        if clashes:
            raise ValueError(
                f"Namespace {name!r} labels override {clashes}; allowed: labels other than "
                f"{sorted(fixed)} (use pod_security= for the enforced level)"
            )
        self.literal_name = name
        self.pod_security = pod_security
        self.resource = NamespaceV1(
            self,
            "Resource",
            metadata=NamespaceV1Metadata(name=name, labels={**extra, **fixed}),
            depends_on=list(depends_on) or None,
        )
        self.name: str = self.resource.metadata.name
