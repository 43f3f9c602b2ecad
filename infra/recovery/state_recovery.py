"""Put every generated secret of an environment back into a fresh Terraform state, from its Key Vault copy.

After the state of an environment is lost (and no blob version can be restored, see
docs/disaster-recovery.md), a plain ``cdktf deploy`` would create *new* random values and overwrite every
consumer with them. This module re-imports the random resources with the values kept in Key Vault instead, so
the next deploy changes nothing:

1. Build the environment's stack in memory and take its :class:`~building_blocks.secret_set.SecretSet`: the
   same definition the deploy uses (names, policies, Terraform addresses, vault name).
2. For each secret not yet in state: read it with ``az keyvault secret show`` (output captured in memory,
   never written anywhere), check that it fits the secret's policy, ``terraform import`` the random resource
   (the id *is* the value: the password, or the base64 of the bytes) and the Key Vault secret (its versioned
   id).
3. ``terraform import`` of a random resource records provider defaults (no keepers, no minimum counts), which
   the next plan would answer by *replacing* the secret. So the state is pulled, the configured arguments
   (``keepers``, ``length``, character classes) are copied onto the imported instances and the state is pushed
   back, through pipes only (``terraform state pull`` / ``terraform state push -``).

Exposure: ``terraform import`` takes the id as a command-line argument, so each value is visible in the
process list of the machine for the seconds the import runs. Mitigations in docs/disaster-recovery.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from building_blocks.secret_catalog import PasswordPolicy, SecretPolicy
from infra.errors import ConfigError

REDACTED = "<redacted>"
# Never let Terraform write debug logs (which can carry import ids) during a recovery.
_SCRUBBED_VARIABLES = ("TF_LOG", "TF_LOG_CORE", "TF_LOG_PROVIDER", "TF_LOG_PATH")
# random_password arguments copied from the configuration onto an imported instance.
_PASSWORD_ARGUMENTS = ("length", "upper", "lower", "numeric", "special", "min_upper", "min_lower",
                       "min_numeric", "min_special", "override_special")


class RecoveryError(ConfigError):
    """A recovery step failed; the message is one line and never contains a secret value."""

    exit_code = 1


@dataclass(frozen=True)
class SecretRecord:
    """One generated secret as the recovery sees it."""

    name: str
    description: str
    policy: SecretPolicy
    random_address: str
    key_vault_secret_address: str


@dataclass(frozen=True)
class RecoveryPlan:
    """What ``recover-state`` does for one environment."""

    environment: str
    vault_name: str
    stack_dir: Path
    secrets: tuple[SecretRecord, ...]


def stack_dir(environment: str) -> Path:
    """``cdktf.out/stacks/<env>`` (or under ``INFRA_OUTDIR``): where ``cdktf deploy`` runs Terraform."""
    from infra.app import OUTDIR, OUTDIR_VARIABLE

    return Path(os.environ.get(OUTDIR_VARIABLE) or OUTDIR) / "stacks" / environment


def build_plan(environment: str) -> RecoveryPlan:
    """The environment's generated secrets, from the stack the deploy builds (no Azure, no Terraform)."""
    from infra.app import build_app
    from infra.registry import load_registry

    registry = load_registry()
    registry.get(environment)  # one line naming the known environments when the name is wrong
    app = build_app(registry, stacks=[environment])  # only this stack: the same one a deploy builds
    stack = app.node.find_child(environment)
    secret_set = getattr(stack, "generated_secrets", None)
    if secret_set is None:
        return RecoveryPlan(environment=environment, vault_name="", stack_dir=stack_dir(environment),
                            secrets=())
    records = tuple(
        SecretRecord(
            name=name,
            description=secret_set.definitions[name].description,
            policy=secret.policy,
            random_address=secret.random_address,
            key_vault_secret_address=secret.key_vault_secret_address,
        )
        for name, secret in secret_set.secrets.items()
    )
    return RecoveryPlan(environment=environment, vault_name=secret_set.key_vault_name,
                        stack_dir=stack_dir(environment), secrets=records)


def describe(plan: RecoveryPlan, *, print_: Callable[[str], None] = print) -> None:
    """The dry run: every step with values redacted. Calls neither az nor terraform."""
    where = _display(plan.stack_dir)
    print_(f"recover-state {plan.environment} (dry run: nothing is read from Azure, nothing is changed)")
    if not plan.secrets:
        print_(f"environment {plan.environment!r} has no generated secrets; nothing to recover")
        return
    print_(f"key vault: {plan.vault_name}")
    print_(f"terraform working directory: {where}")
    for number, record in enumerate(plan.secrets, start=1):
        print_(f"{number}. {record.name} ({record.policy.describe()}): {record.description}")
        print_(f"   read    az keyvault secret show --vault-name {plan.vault_name} --name {record.name} "
               f"(value kept in memory, checked against the policy)")
        print_(f"   import  terraform import {record.random_address} {REDACTED}")
        print_(f"   import  terraform import {record.key_vault_secret_address} "
               f"https://{plan.vault_name}.vault.azure.net/secrets/{record.name}/<version from Key Vault>")
    print_("then    terraform state pull | copy keepers and policy arguments from cdk.tf.json onto the "
           "imported random resources | terraform state push -")
    print_(f"after   cdktf diff {plan.environment}: no random_* resource may be replaced")


# --- the real run ------------------------------------------------------------------------------------------

@dataclass
class _Tools:
    az: str
    terraform: str
    cwd: Path
    env: dict[str, str]
    secrets: list[str]  # values read so far, redacted from anything printed

    def redact(self, text: str) -> str:
        for value in self.secrets:
            if value:
                text = text.replace(value, REDACTED)
        return text

    def run(self, argv: Sequence[str], *, what: str, input_: str | None = None) -> str:
        try:
            result = subprocess.run(list(argv), cwd=self.cwd, env=self.env, input=input_, capture_output=True,
                                    text=True, check=False, timeout=600)
        except OSError as error:
            raise RecoveryError(f"{what}: cannot run {argv[0]}: {error.strerror}") from None
        if result.returncode != 0:
            detail = " ".join(self.redact(result.stderr or result.stdout).split())[:400]
            raise RecoveryError(f"{what} failed (exit {result.returncode}): {detail}")
        return result.stdout


def _find(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise RecoveryError(f"{tool!r} is not on PATH; install it (and log in: az login) before recovering")
    return path


def recover(plan: RecoveryPlan, *, print_: Callable[[str], None] = print) -> None:
    """Re-import every generated secret of ``plan`` that is missing from the environment's state."""
    if not plan.secrets:
        print_(f"environment {plan.environment!r} has no generated secrets; nothing to recover")
        return
    config_file = plan.stack_dir / "cdk.tf.json"
    if not config_file.is_file():
        raise RecoveryError(f"{_display(config_file)} not found; run `make synth` and `terraform -chdir="
                            f"{_display(plan.stack_dir)} init` first")
    if not (plan.stack_dir / ".terraform").is_dir():
        raise RecoveryError(f"{_display(plan.stack_dir)} is not initialized; run `terraform -chdir="
                            f"{_display(plan.stack_dir)} init` first (it connects to the environment's "
                            "backend)")
    config = json.loads(config_file.read_text(encoding="utf-8"))
    for record in plan.secrets:
        for address in (record.random_address, record.key_vault_secret_address):
            if _config_body(config, address) is None:
                raise RecoveryError(f"{address} is not in {_display(config_file)}; the synthesized output is "
                                    "stale, run `make synth` again")
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_VARIABLES}
    env.update({"TF_IN_AUTOMATION": "1", "TF_INPUT": "0"})
    tools = _Tools(az=_find("az"), terraform=_find("terraform"), cwd=plan.stack_dir, env=env, secrets=[])
    in_state = set(tools.run([tools.terraform, "state", "list"], what="terraform state list").split())
    imported = 0
    for record in plan.secrets:
        missing = [a for a in (record.random_address, record.key_vault_secret_address) if a not in in_state]
        if not missing:
            print_(f"{record.name}: already in state, skipped")
            continue
        secret = _read_secret(tools, plan.vault_name, record)
        if record.random_address in missing:
            # "--": a password may start with "-", which must not be read as a flag.
            tools.run([tools.terraform, "import", "-input=false", "-no-color", "--", record.random_address,
                       secret["value"]], what=f"terraform import {record.random_address}")
        if record.key_vault_secret_address in missing:
            tools.run([tools.terraform, "import", "-input=false", "-no-color", "--",
                       record.key_vault_secret_address, secret["id"]],
                      what=f"terraform import {record.key_vault_secret_address}")
        imported += 1
        print_(f"{record.name}: imported {', '.join(missing)}")
    state_text = tools.run([tools.terraform, "state", "pull"], what="terraform state pull")
    state = json.loads(state_text)
    changed = reconcile_state(state, config, plan.secrets)
    if changed:
        tools.run([tools.terraform, "state", "push", "-"], what="terraform state push",
                  input_=json.dumps(state, indent=2) + "\n")
        print_(f"set keepers and policy arguments of {', '.join(changed)} to the configuration")
    print_(f"recovered {imported} of {len(plan.secrets)} generated secrets of {plan.environment!r}; next: "
           f"`cdktf diff {plan.environment}` must show no random_* resource to replace")


def _read_secret(tools: _Tools, vault: str, record: SecretRecord) -> dict[str, str]:
    what = f"az keyvault secret show --vault-name {vault} --name {record.name}"
    output = tools.run([tools.az, "keyvault", "secret", "show", "--vault-name", vault, "--name", record.name,
                        "--query", "{id: id, value: value, contentType: contentType}", "--output", "json"],
                       what=what)
    try:
        secret = json.loads(output)
        value, secret_id = secret["value"], secret["id"]
    except (ValueError, KeyError, TypeError):
        raise RecoveryError(f"{what}: unexpected output (expected JSON with id and value)") from None
    if not isinstance(value, str) or not isinstance(secret_id, str):
        raise RecoveryError(f"{what}: the secret has no value")
    tools.secrets.append(value)
    if secret.get("contentType") != record.policy.content_type:
        raise RecoveryError(f"{record.name}: Key Vault content type {secret.get('contentType')!r}, expected "
                            f"{record.policy.content_type!r}; not written by this secret's policy, "
                            "refusing to import")
    problem = record.policy.check_value(value)
    if problem:
        raise RecoveryError(f"{record.name}: the Key Vault value {problem}; importing it would make the next "
                            "deploy replace the secret, refusing")
    return {"value": value, "id": secret_id}


def _config_body(config: dict[str, Any], address: str) -> dict[str, Any] | None:
    resource_type, _, name = address.partition(".")
    return config.get("resource", {}).get(resource_type, {}).get(name)


def reconcile_state(state: dict[str, Any], config: dict[str, Any],
                    records: Sequence[SecretRecord]) -> list[str]:
    """Copy the configured arguments onto the random resources in ``state`` (in place); bump the serial when
    anything changed. Returns the addresses changed. ``terraform import`` leaves keepers null and the policy
    arguments at provider defaults, and each of them forces replacement on the next plan."""
    wanted: dict[str, dict[str, Any]] = {}
    for record in records:
        body = _config_body(config, record.random_address) or {}
        attributes: dict[str, Any] = {"keepers": body.get("keepers"), "length": body.get("length")}
        if isinstance(record.policy, PasswordPolicy):
            attributes.update({name: body.get(name) for name in _PASSWORD_ARGUMENTS})
            attributes["number"] = attributes["numeric"]  # deprecated alias the provider keeps equal
        wanted[record.random_address] = attributes
    changed = []
    for resource in state.get("resources", []):
        if resource.get("mode") != "managed" or resource.get("module"):
            continue
        address = f"{resource.get('type')}.{resource.get('name')}"
        if address not in wanted:
            continue
        for instance in resource.get("instances", []):
            attributes = instance.setdefault("attributes", {})
            updates = {k: v for k, v in wanted[address].items() if attributes.get(k) != v}
            if updates:
                attributes.update(updates)
                if address not in changed:
                    changed.append(address)
    if changed:
        state["serial"] = int(state.get("serial", 0)) + 1
    return changed


def _display(path: Path) -> str:
    from infra.platform_config import REPO_ROOT

    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
