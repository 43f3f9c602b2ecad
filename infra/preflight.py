"""``make deploy`` / ``make diff`` preflight: what the cdktf CLI needs, checked first, each failure one line.

Runs before anything is installed (``python3 -m infra.preflight deploy <env>``, from the Makefile, with the
venv's Python when it exists, else the machine's): it imports the standard library and the environment registry
only, never the provider packages, node or ruamel, so a fresh clone's ``make deploy ENV=nonexistent`` is refused
in well under a second instead of after a minute of ``npm ci``. In order:

1. ``ENV`` names a stack (``infra environments``);
2. Terraform is on PATH and satisfies :data:`TERRAFORM_REQUIRED_VERSION` (every stack's ``required_version``);
3. the Azure CLI is on PATH and logged in (``az account show``), unless ``ARM_CLIENT_ID`` with a secret, a
   certificate, OIDC or a managed identity supplies the credentials instead (the azurerm provider's own
   environment variables).

Without these, ``cdktf deploy`` starts anyway and buries the cause in hundreds of lines of spinner output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence

# Terraform itself: write-only attributes and ephemeral resources need 1.11 (infra/stacks.py pins it in every
# stack as terraform.required_version; it lives here so the preflight can read it without cdktf).
TERRAFORM_REQUIRED_VERSION = ">= 1.11.0, < 2.0.0"
TERRAFORM_INSTALL = "https://developer.hashicorp.com/terraform/install"
AZ_INSTALL = "https://learn.microsoft.com/cli/azure/install-azure-cli"
ACTIONS = ("deploy", "diff")
# How long `az account show` may take (it reads the local token cache; no network call when logged in).
AZ_TIMEOUT_SECONDS = 60

_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")


class PreflightError(Exception):
    """What is missing and how to fix it, in one line."""


def _version(text: str) -> tuple[int, int, int]:
    match = _VERSION.search(text)
    if match is None:
        raise ValueError(f"no version in {text!r}")
    major, minor, patch = (int(part) for part in match.groups())
    return (major, minor, patch)


def satisfies(version: str, constraint: str = TERRAFORM_REQUIRED_VERSION) -> bool:
    """True when ``version`` (``1.11.4``) meets a Terraform version constraint of comma-separated
    ``<op> <version>`` terms (ops ``>=``, ``>``, ``<=``, ``<``, ``=``, ``!=``)."""
    have = _version(version)
    for term in constraint.split(","):
        match = re.fullmatch(r"\s*(>=|<=|!=|>|<|=)?\s*(\S+)\s*", term)
        if match is None:
            raise ValueError(f"unsupported constraint term {term!r}")
        operator, wanted = match.group(1) or "=", _version(match.group(2))
        ok = {">=": have >= wanted, ">": have > wanted, "<=": have <= wanted, "<": have < wanted,
              "=": have == wanted, "!=": have != wanted}[operator]
        if not ok:
            return False
    return True


def check_environment(action: str, environment: str) -> None:
    """``environment`` is one of the app's stacks."""
    from infra.errors import ConfigError
    from infra.registry import load_registry

    try:
        names = load_registry().stack_names
    except ConfigError as error:
        raise PreflightError(str(error)) from None
    if not environment:
        raise PreflightError(f"make {action}: ENV is not set; allowed: make {action} ENV=<stack>, one of "
                             f"{', '.join(names)}")
    if environment not in names:
        raise PreflightError(f"make {action}: ENV={environment!r} is not a stack; allowed: {', '.join(names)}")


def check_terraform(action: str) -> None:
    """Terraform on PATH, new enough for every stack's ``required_version``."""
    terraform = shutil.which("terraform")
    if terraform is None:
        raise PreflightError(f"make {action}: terraform is not on PATH; the stacks need Terraform "
                             f"{TERRAFORM_REQUIRED_VERSION}: install it ({TERRAFORM_INSTALL})")
    try:
        result = subprocess.run([terraform, "version", "-json"], capture_output=True, text=True, timeout=60,
                                check=False)
        version = str(json.loads(result.stdout)["terraform_version"])
        _version(version)
    except (OSError, subprocess.TimeoutExpired, ValueError, KeyError, TypeError):
        raise PreflightError(f"make {action}: {terraform} version -json does not report a Terraform version; "
                             f"install Terraform {TERRAFORM_REQUIRED_VERSION} ({TERRAFORM_INSTALL})") from None
    if not satisfies(version):
        raise PreflightError(f"make {action}: terraform {version} ({terraform}) is too old or too new; the "
                             f"stacks need {TERRAFORM_REQUIRED_VERSION}: install a matching one "
                             f"({TERRAFORM_INSTALL}) and put it first on PATH")


def arm_credentials() -> bool:
    """True when the azurerm provider's environment variables name a service principal or identity, so no
    Azure CLI login is needed."""
    env = os.environ
    return bool(env.get("ARM_CLIENT_ID")) and any(
        env.get(name) for name in ("ARM_CLIENT_SECRET", "ARM_CLIENT_CERTIFICATE_PATH", "ARM_USE_OIDC",
                                   "ARM_USE_MSI"))


def check_azure_login(action: str) -> None:
    """The Azure CLI on PATH and logged in (``az account show`` succeeds)."""
    if arm_credentials():
        return
    az = shutil.which("az")
    if az is None:
        raise PreflightError(f"make {action}: az (the Azure CLI) is not on PATH; the stacks authenticate "
                             f"through it: install it ({AZ_INSTALL}), then run az login")
    try:
        result = subprocess.run([az, "account", "show", "--output", "none"], capture_output=True, text=True,
                                timeout=AZ_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise PreflightError(f"make {action}: az account show did not answer in {AZ_TIMEOUT_SECONDS} s; "
                             "check the Azure CLI, then run az login") from None
    except OSError as error:
        raise PreflightError(f"make {action}: {az} cannot run ({error.strerror or error}); reinstall the "
                             f"Azure CLI ({AZ_INSTALL})") from None
    if result.returncode != 0:
        said = " ".join(result.stderr.split())[:200]
        raise PreflightError(f"make {action}: not logged in to Azure (az account show: {said or 'failed'}); "
                             "run az login, then az account set --subscription <id>")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] not in ACTIONS:
        print(f"error: usage: python -m infra.preflight {{{','.join(ACTIONS)}}} <env>; got {' '.join(args)!r}",
              file=sys.stderr)
        return 2
    action, environment = args
    try:
        check_environment(action, environment)
        check_terraform(action)
        check_azure_login(action)
    except PreflightError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
