"""The working directory ``recover-state`` imports in: the stack's configuration cut down to the providers the
imports need, with the stack's own backend (docs/disaster-recovery.md, case 2b).

Why a directory of its own: ``terraform import`` configures *every* provider of the configuration and requires
each configuration to be wholly known (Terraform v1.11.4 ``internal/terraform/node_provider.go``: on
``walkImport`` it calls ``ConfigureProvider(ctx, provider, true)``, which fails with "Invalid provider
configuration … depends on values that cannot be determined until apply"). On an AKS environment the helm and
kubernetes providers take ``host`` and ``cluster_ca_certificate`` from ``azurerm_kubernetes_cluster``; a lost
state does not hold the cluster, so its attributes are unknown during the import walk (``evaluate.go``: "Import
does not yet plan resource changes … return a typed unknown value") and the first import fails. The same is
documented upstream as expected behaviour (hashicorp/terraform#26864: "the configuration is complete and can be
evaluated in full in order for import"). Here the import runs where only azurerm, random and time are configured,
and their configurations are literals.

What is kept: every resource and data source of the kept providers whose references (``${…}`` expressions and
``depends_on``) lead only to kept blocks, the variables and locals they use, the kept providers' blocks and
``required_providers`` entries, and the ``terraform`` block with the backend unchanged, so the imports land in
the environment's own state. Outputs are dropped (the next deploy writes them).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from infra.errors import ConfigError

IMPORT_PROVIDERS: tuple[str, ...] = ("azurerm", "random", "time")
"""The providers ``recover-state`` imports with: the Azure resources, the generated secrets, and the
``time_sleep`` waits Azure resources depend on (RBAC propagation). None of them is configured from a resource."""
CONFIG_FILE_NAME = "main.tf.json"
LOCK_FILE_NAME = ".terraform.lock.hcl"

# `type.name`, `data.type.name`, `var.name`, `local.name` inside a string; names as cdktf writes them
# (letters, digits, `_` and `-`, e.g. random_password.generated_secrets_postgres-admin-password_4A1A22F4).
_REFERENCE = re.compile(r"(?<![\w.-])((?:data\.)?[a-z][a-z0-9_]*\.[A-Za-z_][A-Za-z0-9_-]*)")
# Top-level keys of a cdktf JSON configuration that the cut knows how to handle; the address blocks are kept
# when the address they name is.
_ADDRESS_BLOCKS = {"import": "to", "moved": "to", "removed": "from"}
_KNOWN_KEYS = {"//", "terraform", "provider", "resource", "data", "variable", "locals", "output", *_ADDRESS_BLOCKS}


class ImportConfigError(ConfigError):
    """The configuration cannot be cut down for the imports; the message says why and where."""

    exit_code = 1


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def references(body: Any, known: set[str]) -> set[str]:
    """The addresses of ``known`` (``type.name``, ``data.type.name``, ``var.x``, ``local.x``) that ``body``
    refers to, in expressions or ``depends_on``. A token that names no known block is not a reference (a
    hostname such as ``northwind.example`` is a literal)."""
    found: set[str] = set()
    for text in _strings(body):
        for match in _REFERENCE.finditer(text):
            if match.group(1) in known:
                found.add(match.group(1))
    return found


def provider_of(block_type: str, body: dict[str, Any]) -> str:
    """The local provider name of a resource or data source: its ``provider`` meta-argument
    (``azurerm.dns_parent`` → ``azurerm``) or the prefix of its type (``helm_release`` → ``helm``)."""
    explicit = body.get("provider")
    if isinstance(explicit, str) and explicit:
        return explicit.split(".")[0]
    return block_type.split("_")[0]


def provider_part(config: dict[str, Any], *, providers: Sequence[str] = IMPORT_PROVIDERS,
                  required: Sequence[str] = ()) -> dict[str, Any]:
    """The part of a synthesized stack (``cdk.tf.json``, parsed) that needs only ``providers``.

    ``required``: addresses that must be in the part (the import targets); one that is not raises
    :class:`ImportConfigError` naming the provider or reference that keeps it out. A kept provider whose
    configuration refers to a resource or data source raises too: it would be unknown during an import."""
    unknown = sorted(set(config) - _KNOWN_KEYS)
    if unknown:
        raise ImportConfigError(f"the configuration has top-level blocks {unknown} that the import configuration "
                                f"cannot carry; allowed: {', '.join(sorted(_KNOWN_KEYS))}")
    wanted = set(providers)
    blocks: dict[str, tuple[str, str, str, Any]] = {}  # address -> (section, type, name, body)
    for section, prefix in (("resource", ""), ("data", "data.")):
        for block_type, instances in (config.get(section) or {}).items():
            for name, body in instances.items():
                blocks[f"{prefix}{block_type}.{name}"] = (section, block_type, name, body)
    for name, body in (config.get("variable") or {}).items():
        blocks[f"var.{name}"] = ("variable", "", name, body)
    for name, body in (config.get("locals") or {}).items():
        blocks[f"local.{name}"] = ("locals", "", name, body)
    known = set(blocks)
    refs = {address: references(body, known) - {address} for address, (_, _, _, body) in blocks.items()}

    why_not: dict[str, str] = {}
    kept = set()
    for address, (section, block_type, _, body) in blocks.items():
        if section in ("variable", "locals"):
            kept.add(address)
            continue
        provider = provider_of(block_type, body)
        if provider in wanted:
            kept.add(address)
        else:
            why_not[address] = f"its provider {provider!r} is not one of {', '.join(providers)}"
    changed = True
    while changed:  # drop what refers to a dropped block, until nothing changes
        changed = False
        for address in sorted(kept):
            missing = sorted(refs[address] - kept)
            if missing:
                kept.discard(address)
                why_not[address] = f"it refers to {missing[0]}, which is left out because {why_not[missing[0]]}"
                changed = True
    # Variables and locals only where a kept resource or data source uses them (an unused variable without a
    # default would make `terraform import -input=false` fail for want of a value).
    used: set[str] = set()
    pending = [a for a in kept if blocks[a][0] in ("resource", "data")]
    while pending:
        address = pending.pop()
        for ref in refs[address]:
            if ref not in used:
                used.add(ref)
                pending.append(ref)
    kept = {a for a in kept if blocks[a][0] in ("resource", "data") or a in used}

    for address in required:
        if address not in kept:
            reason = why_not.get(address, "it is not in the configuration")
            raise ImportConfigError(f"{address} cannot be imported with the {', '.join(providers)} providers "
                                    f"alone: {reason}")

    part: dict[str, Any] = {}
    terraform = copy.deepcopy(config.get("terraform") or {})
    if "required_providers" in terraform:
        terraform["required_providers"] = {name: spec for name, spec in terraform["required_providers"].items()
                                           if name in wanted}
    part["terraform"] = terraform
    provider_blocks = {name: copy.deepcopy(body) for name, body in (config.get("provider") or {}).items()
                       if name in wanted}
    for name, body in provider_blocks.items():
        blocking = sorted(a for a in references(body, known) if not a.startswith("var."))
        if blocking:
            raise ImportConfigError(f"provider {name!r} is configured from {blocking[0]}, which is unknown while "
                                    "importing into an empty state; allowed: literals and variables")
    if provider_blocks:
        part["provider"] = provider_blocks
    for address in sorted(kept):
        section, block_type, name, body = blocks[address]
        target = part.setdefault(section, {})
        if section in ("resource", "data"):
            target.setdefault(block_type, {})[name] = copy.deepcopy(body)
        else:
            target[name] = copy.deepcopy(body)
    for kind, key in _ADDRESS_BLOCKS.items():
        entries = config.get(kind) or []
        entries = entries if isinstance(entries, list) else [entries]
        kept_entries = [copy.deepcopy(e) for e in entries if isinstance(e, dict) and e.get(key) in kept]
        if kept_entries:
            part[kind] = kept_entries
    return part


def managed_addresses(config: dict[str, Any]) -> list[str]:
    """Every managed resource address of a configuration (``type.name``), sorted."""
    return sorted(f"{block_type}.{name}" for block_type, instances in (config.get("resource") or {}).items()
                  for name in instances)


def write_import_dir(directory: Path, part: dict[str, Any], *, lock_file: Path | None = None) -> Path:
    """Write ``part`` as ``directory/main.tf.json`` (atomically: a temporary file, then ``os.replace``) and copy
    the stack's ``.terraform.lock.hcl`` beside it when there is one (same provider versions and checksums).
    Everything else in ``directory`` (``.terraform`` from an earlier run) is left as it is. Returns the file."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / CONFIG_FILE_NAME
    descriptor, temporary = tempfile.mkstemp(prefix=f".{CONFIG_FILE_NAME}.", dir=directory)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(part, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    if lock_file is not None and lock_file.is_file():
        shutil.copyfile(lock_file, directory / LOCK_FILE_NAME)
    return target
