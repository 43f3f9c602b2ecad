"""How the Kubernetes layer reaches a cluster: a :class:`ClusterConnection`, whoever made the cluster.

Two shapes, nothing else:

* **API server + exec credentials** — ``host`` (``https://…``), ``cluster_ca_certificate`` (PEM) and an
  :class:`ExecAuth` plugin that prints a short-lived token. For AKS with local accounts disabled (Entra ID +
  Azure RBAC) the plugin is kubelogin: :func:`kubelogin` builds ``kubelogin get-token --login <mode>
  --server-id 6dae42f8-4368-4678-94ff-3960e28e3630``. No static credential is ever written to the stack.
* **kubeconfig context** — ``config_path`` plus ``config_context`` of an existing cluster (the ``external``
  environments). Pass the path as a Terraform variable or a ``~``-relative path so no machine's absolute path
  lands in the synthesized JSON.

The values may be literals or Terraform references (tokens); literal values are checked, references are
trusted to resolve to the right shape at apply time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

EXEC_API_VERSIONS: tuple[str, ...] = (
    "client.authentication.k8s.io/v1beta1",
    "client.authentication.k8s.io/v1",
)
# The application id of the "Azure Kubernetes Service AAD Server" — the same in every tenant. kubelogin asks
# Entra ID for a token with this audience; the AKS API server accepts only that audience.
AKS_AAD_SERVER_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
KubeloginMode = Literal["azurecli", "azurepipelines", "workloadidentity"]
KUBELOGIN_MODES: tuple[str, ...] = get_args(KubeloginMode)

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def is_reference(value: object) -> bool:
    """True when ``value`` is (or embeds) an unresolved Terraform reference rather than a literal.

    Checked textually (cdktf string tokens look like ``${TfToken[TOKEN.n]}``) so this module needs no cdktf
    import; :func:`cdktf.Token.is_unresolved` gives the same answer for strings."""
    return isinstance(value, str) and "${" in value


@dataclass(frozen=True, kw_only=True)
class ExecAuth:
    """A client-go credential plugin: the providers run ``command args…`` and use the token it prints."""

    command: str
    """Required. The executable, found on the PATH of whoever runs Terraform (e.g. ``kubelogin``)."""
    args: tuple[str, ...] = ()
    """Arguments. Default: none."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Extra environment variables for the plugin. Default: none (it inherits Terraform's environment)."""
    api_version: str = "client.authentication.k8s.io/v1beta1"
    """The ExecCredential API version the plugin speaks. Default: v1beta1 (what kubelogin prints)."""

    def __post_init__(self) -> None:
        if not isinstance(self.command, str) or not self.command.strip():
            raise ValueError(
                f"ExecAuth command = {self.command!r}; allowed: the name of an executable, e.g. 'kubelogin'"
            )
        if not isinstance(self.args, tuple) or not all(isinstance(a, str) for a in self.args):
            raise ValueError(f"ExecAuth args = {self.args!r}; allowed: a tuple of strings")
        if self.api_version not in EXEC_API_VERSIONS:
            raise ValueError(
                f"ExecAuth api_version = {self.api_version!r}; allowed: {', '.join(EXEC_API_VERSIONS)}"
            )
        for name, value in self.env.items():
            if not (isinstance(name, str) and _ENV_NAME.match(name)) or not isinstance(value, str):
                raise ValueError(
                    f"ExecAuth env {name!r} = {value!r}; allowed: variable names of letters, digits "
                    "and '_' with string values"
                )


def kubelogin(*, login: KubeloginMode | str = "azurecli", server_id: str = AKS_AAD_SERVER_ID) -> ExecAuth:
    """kubelogin as the exec plugin for an Entra ID (AAD) enabled cluster with local accounts disabled.

    ``login`` (default ``azurecli``): reuse the Azure CLI session (locally after ``az login``). Its token comes
    from that session, so in a pipeline it dies with the session's federated token.
    ``azurepipelines``: a fresh token for every call, exchanged from the pipeline's ``SYSTEM_ACCESSTOKEN`` at
    ``SYSTEM_OIDCREQUESTURI`` for the service connection named by ``AZURESUBSCRIPTION_SERVICE_CONNECTION_ID``,
    ``AZURESUBSCRIPTION_CLIENT_ID`` and ``AZURESUBSCRIPTION_TENANT_ID`` (kubelogin v0.2.19,
    pkg/internal/token/options.go UpdateFromEnv and azurepipelinescredential.go) — the mode for every
    Terraform run in Azure Pipelines.
    ``workloadidentity``: a federated token read from ``AZURE_CLIENT_ID``, ``AZURE_TENANT_ID`` and
    ``AZURE_FEDERATED_TOKEN_FILE`` (pods with workload identity).
    ``login`` may also be a Terraform reference (a variable), so whoever runs Terraform picks the mode without
    re-synthesizing. ``server_id`` (default: the AKS AAD server application, the same in every tenant): the
    token audience.
    """
    if not (is_reference(login) or login in KUBELOGIN_MODES):
        raise ValueError(
            f"kubelogin login = {login!r}; allowed: {', '.join(KUBELOGIN_MODES)} or a Terraform reference to one"
        )
    if not _GUID.match(server_id):
        raise ValueError(
            f"kubelogin server_id = {server_id!r}; allowed: a lowercase GUID (default "
            f"{AKS_AAD_SERVER_ID}, the AKS AAD server application)"
        )
    return ExecAuth(command="kubelogin", args=("get-token", "--login", login, "--server-id", server_id))


@dataclass(frozen=True, kw_only=True)
class ClusterConnection:
    """The API endpoint and credentials of one cluster; the only thing the Kubernetes layer knows about it.

    Build it with :meth:`api_server` or :meth:`kubeconfig` rather than the raw constructor. Exactly one shape
    is allowed: ``host`` + ``cluster_ca_certificate`` + ``exec_auth``, or ``config_path`` +
    ``config_context``.
    """

    host: str | None = None
    """API server URL (``https://…``) or a reference to one. Set with ``cluster_ca_certificate`` and
    ``exec_auth``."""
    cluster_ca_certificate: str | None = None
    """PEM of the cluster CA (not base64: decode AKS's ``kube_config[0].cluster_ca_certificate`` with
    ``Fn.base64decode``), or a reference to it."""
    exec_auth: ExecAuth | None = None
    """The credential plugin; see :func:`kubelogin`."""
    config_path: str | None = None
    """Path of a kubeconfig file: a Terraform variable reference or a ``~``-relative path, never absolute."""
    config_context: str | None = None
    """The context in ``config_path`` to use. Set with ``config_path``."""

    @classmethod
    def api_server(cls, *, host: str, cluster_ca_certificate: str, exec_auth: ExecAuth) -> ClusterConnection:
        """A connection to ``host``, trusting ``cluster_ca_certificate`` (PEM), with tokens from
        ``exec_auth``."""
        return cls(host=host, cluster_ca_certificate=cluster_ca_certificate, exec_auth=exec_auth)

    @classmethod
    def kubeconfig(cls, *, config_path: str, config_context: str) -> ClusterConnection:
        """A connection through context ``config_context`` of the kubeconfig file at ``config_path``."""
        return cls(config_path=config_path, config_context=config_context)

    @property
    def uses_kubeconfig(self) -> bool:
        """True for the kubeconfig shape, False for host + CA + exec."""
        return self.config_path is not None

    def __post_init__(self) -> None:
        api_fields = {
            "host": self.host,
            "cluster_ca_certificate": self.cluster_ca_certificate,
            "exec_auth": self.exec_auth,
        }
        file_fields = {"config_path": self.config_path, "config_context": self.config_context}
        api_set = sorted(k for k, v in api_fields.items() if v is not None)
        file_set = sorted(k for k, v in file_fields.items() if v is not None)
        if api_set and file_set:
            raise ValueError(
                f"ClusterConnection sets {api_set + file_set}; allowed: host + cluster_ca_certificate "
                "+ exec_auth, or config_path + config_context, not both"
            )
        if file_set:
            self._validate_kubeconfig()
        elif api_set:
            self._validate_api_server(api_set)
        else:
            raise ValueError(
                "ClusterConnection sets nothing; allowed: host + cluster_ca_certificate + exec_auth, "
                "or config_path + config_context"
            )

    def _validate_api_server(self, present: list[str]) -> None:
        missing = sorted({"host", "cluster_ca_certificate", "exec_auth"} - set(present))
        if missing:
            raise ValueError(
                f"ClusterConnection sets {present} but not {missing}; allowed: host, "
                "cluster_ca_certificate and exec_auth together"
            )
        host, ca = self.host, self.cluster_ca_certificate
        if not isinstance(host, str) or not (is_reference(host) or re.match(r"^https://[^\s/]+", host)):
            raise ValueError(
                f"ClusterConnection host = {host!r}; allowed: an https:// URL or a reference to one"
            )
        if not isinstance(ca, str) or not (is_reference(ca) or "-----BEGIN CERTIFICATE-----" in ca):
            shown = ca if not isinstance(ca, str) or len(ca) < 40 else ca[:40] + "…"
            raise ValueError(
                f"ClusterConnection cluster_ca_certificate = {shown!r}; allowed: a PEM certificate "
                "or a reference to one (base64 from AKS: wrap it in Fn.base64decode)"
            )
        if not isinstance(self.exec_auth, ExecAuth):
            raise ValueError(
                f"ClusterConnection exec_auth = {self.exec_auth!r}; allowed: an ExecAuth, e.g. kubelogin()"
            )

    def _validate_kubeconfig(self) -> None:
        path, context = self.config_path, self.config_context
        if not isinstance(path, str) or not path.strip():
            raise ValueError(
                f"ClusterConnection config_path = {path!r}; allowed: a Terraform variable reference "
                "or a ~-relative kubeconfig path"
            )
        if not is_reference(path) and (path.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", path)):
            raise ValueError(
                f"ClusterConnection config_path = {path!r} is absolute; allowed: a Terraform variable "
                "reference or a ~-relative path (no machine's path in the synthesized JSON)"
            )
        if not isinstance(context, str) or not context.strip():
            raise ValueError(
                f"ClusterConnection config_context = {context!r}; allowed: the name of a kubeconfig "
                "context (set config_path and config_context together)"
            )
