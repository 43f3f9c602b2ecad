"""`make validate`: ``terraform init -backend=false`` + ``terraform validate`` of every synthesized stack with the
real providers, each in its own scratch folder (never in ``cdktf.out``; no lock file ever lands in the repository).

Two provider sources (``INFRA_VALIDATE`` = ``auto`` | ``registry`` | ``mirror``; default ``auto``):

* **registry** (the pipeline, a laptop): the whole stack, with the official providers from the Terraform registry.
  Downloads go to one plugin cache outside the repository (``INFRA_TF_PLUGIN_CACHE``), so seven stacks fetch each
  provider once.
* **mirror** (this machine, CI without the registry): a generated CLI configuration (``TF_CLI_CONFIG_FILE``) whose
  ``filesystem_mirror`` is ``INFRA_TF_MIRROR`` (default ``../shared/terraform-mirror`` next to the repository),
  which holds only hashicorp/azurerm. The stack's azurerm part is validated (``azurerm_part``): every other
  provider's resources, data sources and modules are left out and each reference to one becomes an unknown
  ``variable`` (type ``any``, no default), which ``terraform validate`` treats as an unknown value.
* **auto**: the mirror when it exists, else the registry when it answers. Neither: one line naming both, exit 2.

The public API (also used for other generated configurations, e.g. an import configuration):
``azurerm_part(config) -> dict``, ``terraform_validate(config, mode=..., workdir=None) -> Result``,
``resolve_source(mode) -> Source``, ``cli_config(mirror) -> str``. What this covers and what it cannot:
docs/validate.md.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.errors import ConfigError
from infra.platform_config import REPO_ROOT

MODE_VARIABLE = "INFRA_VALIDATE"
MIRROR_VARIABLE = "INFRA_TF_MIRROR"
TERRAFORM_VARIABLE = "INFRA_TERRAFORM"
REGISTRY_VARIABLE = "INFRA_TF_REGISTRY"  # the registry probed before the first init in registry mode
PLUGIN_CACHE_VARIABLE = "INFRA_TF_PLUGIN_CACHE"
JOBS_VARIABLE = "INFRA_VALIDATE_JOBS"
MODES = ("auto", "registry", "mirror")
DEFAULT_MIRROR = REPO_ROOT.parent / "shared" / "terraform-mirror"
DEFAULT_REGISTRY = "https://registry.terraform.io"
DEFAULT_JOBS = 2  # the machines running `make test` have two cores
MIN_TERRAFORM = (1, 11, 0)  # infra.stacks.TERRAFORM_REQUIRED_VERSION: ">= 1.11.0, < 2.0.0"
AZURERM = "registry.terraform.io/hashicorp/azurerm"
UNKNOWN_PREFIX = "unknown__"  # variables standing for what mirror mode leaves out


# --------------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Diagnostic:
    """One diagnostic of ``terraform validate -json`` (or of ``init -json``), as Terraform and the provider wrote it."""

    severity: str  # "error" | "warning"
    summary: str
    detail: str = ""
    address: str = ""  # the resource address, when Terraform gives one
    where: str = ""  # "<file>:<line>" plus the block it is in, when Terraform gives a range

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Diagnostic:
        where = ""
        if rng := data.get("range"):
            where = f"{Path(rng.get('filename', '')).name}:{rng.get('start', {}).get('line', '?')}"
            if context := (data.get("snippet") or {}).get("context"):
                where += f" ({context})"
        return cls(severity=data.get("severity", "error"), summary=data.get("summary", "").strip(),
                   detail=data.get("detail", "").strip(), address=data.get("address", ""), where=where)

    def __str__(self) -> str:
        text = f"{self.severity}: {self.summary}"
        if self.detail:
            text += f": {self.detail}"
        location = ", ".join(part for part in (self.address, self.where) if part)
        return f"{text} [{location}]" if location else text


@dataclass
class Result:
    """``terraform validate`` of one configuration."""

    name: str
    mode: str  # "registry" | "mirror"
    valid: bool
    diagnostics: list[Diagnostic] = field(default_factory=list)
    seconds: float = 0.0
    kept: int = 0  # resources, data sources and ephemeral resources validated
    replaced: int = 0  # resources, data sources and modules left out (references to them became unknown variables)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity != "error"]


@dataclass(frozen=True)
class Source:
    """Where providers come from: the registry, or a filesystem mirror holding hashicorp/azurerm."""

    mode: str  # "registry" | "mirror"
    mirror: Path | None = None


# --------------------------------------------------------------------------------------------------- sources


def mirror_path() -> Path:
    """``INFRA_TF_MIRROR``, else ``../shared/terraform-mirror`` next to the repository."""
    value = os.environ.get(MIRROR_VARIABLE)
    return Path(value).expanduser().resolve() if value else DEFAULT_MIRROR.resolve()


def _mirror_holds_azurerm(path: Path) -> bool:
    return (path / "registry.terraform.io" / "hashicorp" / "azurerm").is_dir()


def registry_problem(url: str | None = None, *, timeout: float = 5.0) -> str | None:
    """None when the registry's service discovery answers, else why not (one short phrase)."""
    url = (url or os.environ.get(REGISTRY_VARIABLE) or DEFAULT_REGISTRY).rstrip("/")
    try:
        with urllib.request.urlopen(f"{url}/.well-known/terraform.json", timeout=timeout) as response:
            json.loads(response.read())
    except (OSError, ValueError) as error:  # URLError, timeouts, refused connections, a non-JSON answer
        reason = getattr(error, "reason", None) or error
        return f"{url} is unreachable ({reason})"
    return None


def resolve_source(mode: str | None = None, *, mirror: Path | None = None) -> Source:
    """The provider source for ``mode`` (default ``INFRA_VALIDATE``, else ``auto``), or ConfigError in one line."""
    mode = (mode or os.environ.get(MODE_VARIABLE) or "auto").strip().lower()
    if mode not in MODES:
        raise ConfigError(f"{MODE_VARIABLE}={mode!r}: allowed: {', '.join(MODES)}")
    path = Path(mirror).resolve() if mirror is not None else mirror_path()
    have_mirror = _mirror_holds_azurerm(path)
    missing_mirror = (f"no Terraform mirror holding hashicorp/azurerm at {path} "
                      f"(set {MIRROR_VARIABLE} to a filesystem mirror)")
    if mode == "mirror":
        if not have_mirror:
            raise ConfigError(f"terraform validate ({MODE_VARIABLE}={mode}): {missing_mirror}")
        return Source("mirror", path)
    if mode == "auto" and have_mirror:
        return Source("mirror", path)
    problem = registry_problem()
    if problem is None:
        return Source("registry")
    if mode == "registry":
        raise ConfigError(f"terraform validate ({MODE_VARIABLE}=registry): {problem}")
    raise ConfigError(f"terraform validate: no provider source: {missing_mirror}, and {problem}")


def cli_config(mirror: Path) -> str:
    """A Terraform CLI configuration installing hashicorp/azurerm from ``mirror`` and nothing else from anywhere.

    The form is the one in the mirror's README; ``direct { exclude = [...] }`` keeps Terraform from asking the
    registry for azurerm. Any other provider still goes to the registry (and fails without it), which is why
    mirror mode validates only ``azurerm_part`` of a configuration.
    """
    path = json.dumps(str(Path(mirror).resolve()))
    return (
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {path}\n"
        f'    include = ["{AZURERM}"]\n'
        "  }\n"
        f'  direct {{ exclude = ["{AZURERM}"] }}\n'
        "}\n"
        "disable_checkpoint = true\n"
    )


# ----------------------------------------------------------------------------------------------- azurerm_part
#
# Terraform JSON syntax (developer.hashicorp.com/terraform/language/syntax/json): a string in an argument is a
# template ("${...}" interpolations, "%{...}" directives, "$${"/"%%{" escapes), except in the meta-arguments that
# take static references -- depends_on, provider, lifecycle.ignore_changes, lifecycle.replace_triggered_by -- and
# the addresses of import/moved/removed blocks, where the string *is* the reference ("random_password.x").
# A resource belongs to the provider its `provider` meta-argument names, else to the one its type's first word
# implies (azurerm_key_vault -> azurerm), looked up in terraform.required_providers.

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_STATIC_REF = re.compile(r"^\s*(?:(data|ephemeral)\.)?([A-Za-z_][A-Za-z0-9_-]*)\.([A-Za-z_][A-Za-z0-9_-]*)")


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    """Terraform JSON allows an object or an array of objects wherever blocks go."""
    if isinstance(value, dict):
        yield value
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item


def _blocks(config: Mapping[str, Any], kind: str) -> Iterator[tuple[str, str, Any]]:
    """(type, name, body) of every resource / data / ephemeral block."""
    for by_type in _dicts(config.get(kind)):
        for type_, by_name in by_type.items():
            for named in _dicts(by_name):
                for name, body in named.items():
                    yield type_, name, body


def _normalized_source(source: str) -> str:
    parts = source.strip().lower().split("/")
    if len(parts) == 1:
        parts = ["hashicorp", *parts]
    if len(parts) == 2:
        parts = ["registry.terraform.io", *parts]
    return "/".join(parts)


def _provider_sources(config: Mapping[str, Any]) -> dict[str, str]:
    sources: dict[str, str] = {}
    for terraform in _dicts(config.get("terraform")):
        for block in _dicts(terraform.get("required_providers")):
            for local_name, requirement in block.items():
                source = requirement.get("source") if isinstance(requirement, dict) else None
                sources[local_name] = _normalized_source(source or local_name)
    return sources


def _is_azurerm(type_: str, body: Any, sources: Mapping[str, str]) -> bool:
    provider = body.get("provider") if isinstance(body, dict) else None
    local_name = (provider.split(".")[0].strip() if isinstance(provider, str) and provider.strip()
                  else type_.split("_")[0])
    return sources.get(local_name, _normalized_source(local_name)) == AZURERM


def _unknown_name(key: tuple[str, ...]) -> str:
    return UNKNOWN_PREFIX + "__".join(key)


class _Rewriter:
    """Rewrites references to left-out objects in Terraform JSON templates into ``var.unknown__...``."""

    def __init__(self, dropped: set[tuple[str, ...]]) -> None:
        self.dropped = dropped
        self.used: dict[str, tuple[str, ...]] = {}  # variable name -> the left-out object it stands for

    # -- static references (depends_on, replace_triggered_by, import/moved/removed addresses)
    def static_key(self, text: str) -> tuple[str, ...] | None:
        if not isinstance(text, str):
            return None
        text = text.strip()
        if text.startswith("${") and text.endswith("}"):
            text = text[2:-1]
        if text.startswith("module."):
            name = _IDENT.match(text, len("module."))
            return ("module", name.group(0)) if name else None
        match = _STATIC_REF.match(text)
        if not match:
            return None
        kind, type_, name = match.groups()
        return (kind, type_, name) if kind else (type_, name)

    def is_dropped(self, text: str) -> bool:
        return self.static_key(text) in self.dropped

    # -- templates
    def value(self, value: Any) -> Any:
        """Every string of a JSON value (object keys too: they may be interpolated) as a template."""
        if isinstance(value, str):
            return self.template(value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {(self.template(k) if "{" in k else k): self.value(v) for k, v in value.items()}
        return value

    def template(self, text: str) -> str:
        out: list[str] = []
        self._template(text, 0, out, quoted=False)
        return "".join(out)

    def _template(self, text: str, i: int, out: list[str], *, quoted: bool) -> int:
        """Literal text until the end (or, inside an expression, the closing quote); returns the index after it."""
        n = len(text)
        while i < n:
            if text.startswith(("$${", "%%{"), i):
                out.append(text[i:i + 3])
                i += 3
            elif text.startswith(("${", "%{"), i):
                out.append(text[i:i + 2])
                i = self._expression(text, i + 2, out)
            elif quoted and text[i] == "\\" and i + 1 < n:
                out.append(text[i:i + 2])
                i += 2
            elif quoted and text[i] == '"':
                out.append('"')
                return i + 1
            else:
                out.append(text[i])
                i += 1
        return i

    def _expression(self, text: str, i: int, out: list[str]) -> int:
        """An expression up to the ``}`` that closes its interpolation; returns the index after that brace."""
        n, depth = len(text), 0
        while i < n:
            char = text[i]
            if char == '"':
                out.append(char)
                i = self._template(text, i + 1, out, quoted=True)
            elif char == "{":
                depth += 1
                out.append(char)
                i += 1
            elif char == "}":
                out.append(char)
                i += 1
                if depth == 0:
                    return i
                depth -= 1
            elif char.isdigit():  # a number, e.g. 1e5: its letters are no identifier
                j = i
                while j < n and (text[j].isalnum() or text[j] == "."):
                    j += 1
                out.append(text[i:j])
                i = j
            elif match := _IDENT.match(text, i):
                i = self._reference(text, match, out)
            else:
                out.append(char)
                i += 1
        return i

    def _reference(self, text: str, match: re.Match[str], out: list[str]) -> int:
        start, end = match.span()
        if _last_char(out) == ".":  # an attribute of something else (x.random_password), not a root
            out.append(match.group(0))
            return end
        parts = [match.group(0)]
        want = 3 if parts[0] in ("data", "ephemeral") else 2
        position = end
        while len(parts) < want and text.startswith(".", position):
            following = _IDENT.match(text, position + 1)
            if not following:
                break
            parts.append(following.group(0))
            position = following.end()
        key = tuple(parts)
        if len(parts) == want and key in self.dropped:
            name = _unknown_name(key)
            self.used[name] = key
            out.append(f"var.{name}")
            return position
        out.append(text[start:end])
        return end


def _last_char(out: list[str]) -> str:
    """The last non-blank character written so far ("" at the start)."""
    for piece in reversed(out):
        if stripped := piece.rstrip():
            return stripped[-1]
    return ""


def _kept_body(body: Any, rewriter: _Rewriter, literal: tuple[str, ...] = ()) -> Any:
    """A kept block body: templates rewritten, static references to left-out objects pruned, ``literal`` keys
    (and the static ``provider`` and ``//`` comments) unchanged."""
    if not isinstance(body, dict):
        return rewriter.value(body)
    kept: dict[str, Any] = {}
    for key, value in body.items():
        if key == "depends_on" and isinstance(value, list):
            kept[key] = [ref for ref in value if not rewriter.is_dropped(ref)]
        elif key in ("provider", "//") or key in literal:
            kept[key] = value
        elif key == "lifecycle":
            kept[key] = [_lifecycle(item, rewriter) for item in value] if isinstance(value, list) \
                else _lifecycle(value, rewriter)
        else:
            kept[key] = rewriter.value(value)
    return kept


def _lifecycle(lifecycle: Any, rewriter: _Rewriter) -> Any:
    if not isinstance(lifecycle, dict):
        return lifecycle
    kept: dict[str, Any] = {}
    for key, value in lifecycle.items():
        if key == "ignore_changes":  # attribute names of the resource itself
            kept[key] = value
        elif key == "replace_triggered_by" and isinstance(value, list):
            kept[key] = [ref for ref in value if not rewriter.is_dropped(ref)]
        else:  # precondition / postcondition, create_before_destroy, prevent_destroy
            kept[key] = rewriter.value(value)
    return kept


def _references_dropped(value: Any, rewriter: _Rewriter) -> bool:
    probe = _Rewriter(rewriter.dropped)
    probe.value(value)
    if isinstance(value, dict):
        for ref in value.get("depends_on", []) if isinstance(value.get("depends_on"), list) else []:
            if probe.is_dropped(ref):
                return True
    return bool(probe.used)


def azurerm_part(config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a Terraform JSON configuration that the azurerm provider alone can validate.

    Kept: ``azurerm_*`` resources, data sources and ephemeral resources (by the provider they belong to), the
    azurerm provider blocks (aliases too), variables, locals, ``check`` blocks on kept data, import/moved/removed
    blocks for kept resources, and outputs that reference only kept things. Every reference to a left-out
    resource, data source or module becomes ``var.unknown__<type>__<name>`` (``unknown__data__...``,
    ``unknown__module__...``), declared as a variable of type ``any`` without default, so ``terraform validate``
    sees an unknown value of any type; ``depends_on`` and ``replace_triggered_by`` entries pointing at left-out
    objects are dropped. ``terraform.required_providers`` keeps only azurerm; backend and cloud blocks go.
    The input is not changed.
    """
    sources = _provider_sources(config)
    keep: dict[str, dict[str, dict[str, Any]]] = {"resource": {}, "data": {}, "ephemeral": {}}
    dropped: set[tuple[str, ...]] = set()
    for kind in keep:
        for type_, name, body in _blocks(config, kind):
            if _is_azurerm(type_, body, sources):
                keep[kind].setdefault(type_, {})[name] = body
            else:
                dropped.add((type_, name) if kind == "resource" else (kind, type_, name))
    for modules in _dicts(config.get("module")):
        dropped.update(("module", name) for name in modules)
    rewriter = _Rewriter(dropped)

    part: dict[str, Any] = {}
    if "//" in config:
        part["//"] = config["//"]
    terraform: dict[str, Any] = {}
    for block in _dicts(config.get("terraform")):
        for key, value in block.items():
            if key in ("backend", "cloud"):
                continue
            if key == "required_providers":
                azurerm = {local: requirement for providers in _dicts(value) for local, requirement in providers.items()
                           if sources.get(local) == AZURERM}
                terraform[key] = azurerm
            else:
                terraform[key] = value
    if terraform:
        part["terraform"] = terraform
    providers: dict[str, Any] = {}
    for block in _dicts(config.get("provider")):
        for local_name, configs in block.items():
            if sources.get(local_name, _normalized_source(local_name)) == AZURERM:
                providers.setdefault(local_name, []).extend(
                    _kept_body(c, rewriter, ("alias", "version")) for c in _dicts(configs))
    if providers:
        part["provider"] = providers
    for kind, by_type in keep.items():
        if by_type:
            part[kind] = {type_: {name: _kept_body(body, rewriter) for name, body in named.items()}
                          for type_, named in by_type.items()}
    variables: dict[str, Any] = {}
    for block in _dicts(config.get("variable")):
        variables.update(block)  # a variable's default is a literal and its type a type expression: unchanged
    locals_: dict[str, Any] = {}
    for block in _dicts(config.get("locals")):
        locals_.update({name: rewriter.value(value) for name, value in block.items()})
    if locals_:
        part["locals"] = locals_
    # an output's description and sensitive are literal JSON values (the JSON syntax page, "output blocks")
    outputs = {name: _kept_body(body, rewriter, ("description", "sensitive", "ephemeral"))
               for block in _dicts(config.get("output")) for name, body in block.items()
               if not _references_dropped(body, rewriter)}
    if outputs:
        part["output"] = outputs
    checks = {name: _kept_body(body, rewriter) for block in _dicts(config.get("check"))
              for name, body in block.items()
              if all(_is_azurerm(t, b, sources) for t, _, b in _blocks(body, "data"))}
    if checks:
        part["check"] = checks
    for kind, address_key in (("import", "to"), ("moved", "to"), ("removed", "from")):
        blocks = [_kept_body(block, rewriter) for block in _dicts(config.get(kind))
                  if not rewriter.is_dropped(block.get(address_key, ""))
                  and _address_is_azurerm(block.get(address_key, ""), block, sources)]
        if blocks:
            part[kind] = blocks
    for name in sorted(rewriter.used):
        key = rewriter.used[name]
        variables[name] = {"type": "any", "description": f"stands for {'.'.join(key)}, left out by azurerm_part"}
    if variables:
        part["variable"] = variables
    return part


def _address_is_azurerm(address: str, block: Mapping[str, Any], sources: Mapping[str, str]) -> bool:
    match = _STATIC_REF.match(address) if isinstance(address, str) else None
    if not match or address.strip().startswith("module."):
        return False
    return _is_azurerm(match.group(2), block, sources)


def count_blocks(config: Mapping[str, Any]) -> int:
    """Resources, data sources, ephemeral resources and modules of a configuration."""
    modules = sum(len(m) for m in _dicts(config.get("module")))
    return sum(1 for kind in ("resource", "data", "ephemeral") for _ in _blocks(config, kind)) + modules


# ------------------------------------------------------------------------------------------------- terraform


def find_terraform() -> str:
    """The terraform binary (``INFRA_TERRAFORM`` or PATH), at least MIN_TERRAFORM, or ConfigError in one line."""
    wanted = ".".join(map(str, MIN_TERRAFORM))
    name = os.environ.get(TERRAFORM_VARIABLE) or "terraform"
    binary = shutil.which(name)
    if not binary:
        raise ConfigError(f"terraform validate: {name!r} not found (on PATH or via {TERRAFORM_VARIABLE}); "
                          f"it needs Terraform >= {wanted}")
    try:
        completed = subprocess.run([binary, "version", "-json"], capture_output=True, text=True, timeout=60,
                                   check=False, env={**os.environ, "CHECKPOINT_DISABLE": "1"})
        version = json.loads(completed.stdout)["terraform_version"]
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, TypeError):
        raise ConfigError(f"terraform validate: {binary} does not report its version "
                          f"(`terraform version -json`); it needs Terraform >= {wanted}") from None
    numbers = tuple(int(part) for part in re.findall(r"\d+", version)[:3])
    if numbers < MIN_TERRAFORM:
        raise ConfigError(f"terraform validate: {binary} is Terraform {version}; it needs >= {wanted} "
                          f"(set {TERRAFORM_VARIABLE} to a newer one)")
    return binary


def plugin_cache_dir() -> Path:
    """``INFRA_TF_PLUGIN_CACHE``, else a folder in the system's temporary directory (never in the repository)."""
    value = os.environ.get(PLUGIN_CACHE_VARIABLE)
    return Path(value).expanduser() if value else Path(tempfile.gettempdir()) / "infra-terraform-plugin-cache"


# Terraform's plugin cache is not safe for concurrent inits (two installing the same provider race on the unpacked
# cache entry: hashicorp/terraform#31964), so registry-mode inits take turns; validate runs still overlap.
_INIT_LOCK = threading.Lock()


def _run_json(binary: str, args: list[str], cwd: Path, env: Mapping[str, str]) -> tuple[int, list[dict], str]:
    completed = subprocess.run([binary, f"-chdir={cwd}", *args], capture_output=True, text=True, env=dict(env),
                               timeout=900, check=False)
    messages = []
    for line in completed.stdout.splitlines():
        try:
            messages.append(json.loads(line))
        except ValueError:
            continue
    return completed.returncode, messages, completed.stderr.strip()


def terraform_validate(config: Mapping[str, Any], *, mode: str | Source | None = None, name: str = "config",
                       workdir: Path | None = None, terraform: str | None = None) -> Result:
    """``terraform init -backend=false`` + ``terraform validate -json`` of one Terraform JSON configuration.

    ``mode``: a Source, or "auto" / "registry" / "mirror" (default: ``INFRA_VALIDATE``, else auto). In mirror mode
    the configuration's ``azurerm_part`` is validated. ``workdir``: an empty folder to work in (kept, for
    inspection); default a temporary folder, removed afterwards. Never touches the repository.
    """
    source = mode if isinstance(mode, Source) else resolve_source(mode)
    binary = terraform or find_terraform()
    part = azurerm_part(config) if source.mode == "mirror" else json.loads(json.dumps(config))
    total = count_blocks(config)
    kept = count_blocks(part) - sum(len(m) for m in _dicts(part.get("module")))
    result = Result(name=name, mode=source.mode, valid=False, kept=kept, replaced=total - kept)
    started = time.perf_counter()
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
        _validate_in(Path(workdir), part, source, binary, result)
    else:
        with tempfile.TemporaryDirectory(prefix=f"tf-validate-{name}-") as scratch:
            _validate_in(Path(scratch), part, source, binary, result)
    result.seconds = time.perf_counter() - started
    return result


def _validate_in(scratch: Path, part: Mapping[str, Any], source: Source, binary: str, result: Result) -> None:
    configuration = scratch / "config"
    configuration.mkdir(exist_ok=True)
    (configuration / "main.tf.json").write_text(json.dumps(part, indent=2) + "\n", encoding="utf-8")
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", "TF_INPUT": "0",
           "TF_DATA_DIR": str(scratch / ".terraform")}
    for variable in ("TF_WORKSPACE", "TF_CLI_ARGS", "TF_CLI_ARGS_init", "TF_CLI_ARGS_validate"):
        env.pop(variable, None)
    if source.mode == "mirror":
        assert source.mirror is not None
        rc = scratch / "terraform.rc"
        rc.write_text(cli_config(source.mirror), encoding="utf-8")
        env["TF_CLI_CONFIG_FILE"] = str(rc)
        env.pop("TF_PLUGIN_CACHE_DIR", None)  # the mirror's unpacked layout is linked, not copied: nothing to cache
        lock = None
    else:
        cache = plugin_cache_dir()
        cache.mkdir(parents=True, exist_ok=True)
        env["TF_PLUGIN_CACHE_DIR"] = str(cache)
        # Since Terraform 1.4 a cached provider is used only when the lock file already records its checksum
        # (hashicorp/terraform#32129); a scratch folder has no lock file, so without this every stack would
        # download every provider again. The scratch lock file is thrown away, never committed.
        env["TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE"] = "true"
        lock = _INIT_LOCK
    init_args = ["init", "-backend=false", "-input=false", "-json", "-no-color"]
    if lock is not None:
        with lock:
            code, messages, stderr = _run_json(binary, init_args, configuration, env)
    else:
        code, messages, stderr = _run_json(binary, init_args, configuration, env)
    if code != 0:
        result.diagnostics = [Diagnostic.from_json(m["diagnostic"]) for m in messages
                              if m.get("type") == "diagnostic" and m["diagnostic"].get("severity") == "error"]
        if not result.diagnostics:
            result.diagnostics = [Diagnostic("error", "terraform init failed",
                                             (stderr.splitlines() or [f"exit {code}"])[-1])]
        return
    _read_validate(binary, configuration, env, result)


def _read_validate(binary: str, configuration: Path, env: Mapping[str, str], result: Result) -> None:
    completed = subprocess.run([binary, f"-chdir={configuration}", "validate", "-json", "-no-color"],
                               capture_output=True, text=True, env=dict(env), timeout=900, check=False)
    try:
        report = json.loads(completed.stdout)
    except ValueError:
        tail = (completed.stderr.strip().splitlines() or [f"exit {completed.returncode}, no JSON report"])[-1]
        result.diagnostics = [Diagnostic("error", "terraform validate produced no JSON report", tail)]
        return
    result.diagnostics = [Diagnostic.from_json(d) for d in report.get("diagnostics", [])]
    result.valid = bool(report.get("valid")) and not result.errors


# ---------------------------------------------------------------------------------------------------- stacks


def validate_stacks(stacks: Mapping[str, Mapping[str, Any]], *, mode: str | Source | None = None,
                    jobs: int | None = None,
                    on_result: Callable[[Result], None] | None = None) -> list[Result]:
    """Every stack, ``jobs`` at a time (default ``INFRA_VALIDATE_JOBS``, else 2); results in the input's order."""
    source = mode if isinstance(mode, Source) else resolve_source(mode)
    binary = find_terraform()
    jobs = jobs or _jobs()

    def one(name: str) -> Result:
        result = terraform_validate(stacks[name], mode=source, name=name, terraform=binary)
        if on_result:
            on_result(result)
        return result

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, stacks))


def _jobs() -> int:
    value = os.environ.get(JOBS_VARIABLE, "")
    if not value:
        return DEFAULT_JOBS
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{JOBS_VARIABLE}={value!r}: allowed: a whole number >= 1")
    return int(value)


def table(results: list[Result]) -> str:
    width = max(len("stack"), *(len(r.name) for r in results))
    lines = [f"{'stack':<{width}}  mode      kept  replaced  seconds  result"]
    for r in results:
        outcome = "valid" if r.valid else f"INVALID ({len(r.errors)} error{'s' if len(r.errors) != 1 else ''})"
        if r.valid and r.warnings:
            outcome += f" ({len(r.warnings)} warning{'s' if len(r.warnings) != 1 else ''})"
        lines.append(f"{r.name:<{width}}  {r.mode:<8}  {r.kept:>4}  {r.replaced:>8}  {r.seconds:>7.1f}  {outcome}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Report:
    text: str  # the table, then one line per diagnostic: "<stack>: error: <summary>: <detail> [<address>, <line>]"
    exit_code: int  # 0 when every stack is valid, else 1


def report(results: list[Result]) -> Report:
    lines = [table(results)]
    lines += [f"{result.name}: {diagnostic}" for result in results for diagnostic in result.diagnostics]
    return Report(text="\n".join(lines), exit_code=0 if all(r.valid for r in results) else 1)


def load_stacks(stacks_dir: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    return {name: json.loads((stacks_dir / name / "cdk.tf.json").read_text(encoding="utf-8")) for name in names}


def main() -> int:
    """``python -m infra.validate`` (``make validate``): synthesize into a temporary folder, validate, table."""
    from infra.app import synth

    started = time.perf_counter()
    try:
        source = resolve_source()
        find_terraform()
        _jobs()
        with tempfile.TemporaryDirectory(prefix="validate-synth-") as tmp:
            outdir = Path(tmp) / "cdktf.out"
            names = synth(outdir)
            results = validate_stacks(load_stacks(outdir / "stacks", names), mode=source)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    outcome = report(results)
    where = f"the mirror {source.mirror}" if source.mirror else "the registry"
    invalid = sum(1 for r in results if not r.valid)
    print(f"{outcome.text}\n{len(results)} stacks through terraform validate with {where}: "
          f"{invalid or 'none'} invalid, {time.perf_counter() - started:.1f} s in all")
    return outcome.exit_code

if __name__ == "__main__":
    sys.exit(main())
