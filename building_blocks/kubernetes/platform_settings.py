"""Global Kubernetes configuration the product reads: the ``platform-settings`` config map and global secrets.

Both go into an explicitly created :class:`Namespace` (never ``default``). Secret values are Terraform
references handed in by the generated-secrets block — a literal is refused, so no secret material can be
written into this repository or the synthesized JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

import cdktf
from cdktf_cdktf_provider_kubernetes.config_map_v1 import ConfigMapV1, ConfigMapV1Metadata
from cdktf_cdktf_provider_kubernetes.secret_v1 import SecretV1, SecretV1Metadata
from constructs import Construct

from building_blocks.kubernetes.namespace import DNS1123_LABEL, MANAGED_BY_LABEL, Namespace

PLATFORM_SETTINGS_NAME = "platform-settings"
_DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
# A whole value that is one cdktf token, e.g. "${TfToken[TOKEN.12]}" — not a literal with a reference inside.
_SINGLE_TOKEN = re.compile(r"^\$\{TfToken\[[^\]]+\]\}$")


def _check_namespace(owner: str, namespace: object) -> Namespace:
    if not isinstance(namespace, Namespace):
        raise ValueError(
            f"{owner} namespace = {namespace!r}; allowed: a Namespace construct (never 'default')"
        )
    return namespace


def _check_key(owner: str, key: object) -> str:
    if not isinstance(key, str) or not _DATA_KEY.match(key):
        raise ValueError(f"{owner} key {key!r}; allowed: 1-253 letters, digits, '-', '_', '.'")
    return key


class PlatformSettings(Construct):
    """The ``platform-settings`` config map (child ``Resource``) in one namespace.

    Keys (env-var style, usable with ``envFrom``): ``ENVIRONMENT``, ``REGION``, ``DNS_DOMAIN`` and
    ``COMPONENT_VERSIONS`` (a JSON object component → version, sorted: what runs in this environment), plus
    ``extra`` entries. Exposes ``config_map`` and ``data`` (what was written, for tests and outputs).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        namespace: Namespace,
        environment: str,
        region: str,
        dns_domain: str,
        component_versions: Mapping[str, str],
        extra: Mapping[str, str] | None = None,
    ) -> None:
        """Required: ``namespace``, ``environment`` (its name), ``region``, ``dns_domain`` (the environment's
        zone), ``component_versions`` (component → version; may be empty). ``extra`` (default none): more
        keys, which may not replace the four above."""
        super().__init__(scope, id_)
        owner = "PlatformSettings"
        namespace = _check_namespace(owner, namespace)
        for field_name, value in (
            ("environment", environment),
            ("region", region),
            ("dns_domain", dns_domain),
        ):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{owner} {field_name} = {value!r}; allowed: a non-empty string")
        versions: dict[str, str] = {}
        for component, version in component_versions.items():
            if not (isinstance(component, str) and DNS1123_LABEL.match(component)) or not (
                isinstance(version, str) and version and version != "latest"
            ):
                raise ValueError(
                    f"{owner} component_versions {component!r} = {version!r}; allowed: component "
                    "names (DNS-1123) with exact versions (not empty, not 'latest')"
                )
            versions[component] = version
        data = {
            "ENVIRONMENT": environment,
            "REGION": region,
            "DNS_DOMAIN": dns_domain,
            "COMPONENT_VERSIONS": json.dumps(versions, sort_keys=True),
        }
        for key, value in (extra or {}).items():
            _check_key(owner, key)
            if key in data:
                raise ValueError(
                    f"{owner} extra key {key!r} would replace a standard key; allowed: keys other "
                    f"than {sorted(data)}"
                )
            if not isinstance(value, str):
                raise ValueError(f"{owner} extra {key!r} = {value!r}; allowed: a string")
            data[key] = value
        self.data = data
        self.config_map = ConfigMapV1(
            self,
            "Resource",
            metadata=ConfigMapV1Metadata(
                name=PLATFORM_SETTINGS_NAME, namespace=namespace.name, labels=dict(MANAGED_BY_LABEL)
            ),
            data=data,
            depends_on=[namespace.resource],
        )


class GlobalSecrets(Construct):
    """One Opaque Kubernetes secret (child ``Resource``) whose every value is a Terraform reference.

    ``write_only_revision`` chooses how the values reach the cluster:

    * ``None`` (default): ``data`` — the values are also kept in Terraform state (sensitive), and Terraform
      notices drift in the cluster.
    * an integer: ``data_wo`` + ``data_wo_revision`` (Terraform ≥ 1.11) — the values are sent but never stored
      in state for this resource; raise the revision to push new values (e.g. after a rotation).

    Exposes ``secret`` and ``keys``.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        namespace: Namespace,
        values: Mapping[str, str],
        name: str = "platform-secrets",
        write_only_revision: int | None = None,
    ) -> None:
        """Required: ``namespace``, ``values`` (key → reference, at least one). ``name`` (default
        ``platform-secrets``, DNS-1123). ``write_only_revision`` (default none): see the class doc."""
        super().__init__(scope, id_)
        owner = f"GlobalSecrets {name!r}"
        namespace = _check_namespace(owner, namespace)
        if not isinstance(name, str) or not DNS1123_LABEL.match(name):
            raise ValueError(f"GlobalSecrets name = {name!r}; allowed: a DNS-1123 label")
        if not values:
            raise ValueError(f"{owner} values = {values!r}; allowed: at least one key → reference")
        data: dict[str, str] = {}
        for key, value in values.items():
            _check_key(owner, key)
            if not (
                isinstance(value, str) and cdktf.Token.is_unresolved(value) and _SINGLE_TOKEN.match(value)
            ):
                # Never echo the value: it might be the secret itself.
                raise ValueError(
                    f"{owner} value of {key!r} is a literal ({type(value).__name__}); allowed: a "
                    "Terraform reference only (e.g. a generated secret's result)"
                )
            data[key] = value
        if write_only_revision is not None and (
            not isinstance(write_only_revision, int)
            or isinstance(write_only_revision, bool)
            or write_only_revision < 1
        ):
            raise ValueError(
                f"{owner} write_only_revision = {write_only_revision!r}; allowed: None or an integer ≥ 1"
            )
        self.keys = sorted(data)
        content = (
            {"data": data}
            if write_only_revision is None
            else {"data_wo": data, "data_wo_revision": write_only_revision}
        )
        self.secret = SecretV1(
            self,
            "Resource",
            metadata=SecretV1Metadata(name=name, namespace=namespace.name, labels=dict(MANAGED_BY_LABEL)),
            type="Opaque",
            depends_on=[namespace.resource],
            **content,
        )
