"""A small, strict model of Azure Pipelines template expansion, and the checkers of tests/test_pipelines.py.

Why an expander: the Azure Pipelines JSON schema cannot describe template-expression keys (``${{ if }}:``,
``${{ each }}:``) or a ``stepList`` parameter spliced into a list, so files that use them are validated in
*expanded* form - the way Azure DevOps compiles them - for every value their runtime parameters allow.

The model covers what this repository's pipelines use and refuses everything else with an ``ExpansionError``
(never a silent pass): ``${{ <expr> }}`` in values and keys, ``${{ if/elseif/else }}`` and ``${{ each }}`` in
mappings and sequences, a whole-item ``- ${{ parameters.someStepList }}`` splice, ``template:`` references in
``stages``/``jobs``/``steps``/``variables`` lists and ``extends:``, ``path@alias`` references through an alias
map, and typed parameters (``string``, ``boolean``, ``number``, ``object``, ``step``/``stepList``,
``job``/``jobList``, ``stage``/``stageList``) with defaults and ``values:`` allowlists. Runtime syntax
(``$[ ]``, ``$( )``) is left untouched, as Azure DevOps does at compile time.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
# The Azure Pipelines schema: INFRA_PIPELINE_SCHEMA (the build stage fetches it at a pinned commit,
# pipelines/templates/steps/fetch-pipeline-schema.yml), else the shared copy beside the repository.
SCHEMA_VARIABLE = "INFRA_PIPELINE_SCHEMA"
SCHEMA_PATH = REPO_ROOT.parent / "shared/schemas/azure-pipelines.schema.json"


def schema_path() -> Path:
    return Path(os.environ.get(SCHEMA_VARIABLE) or SCHEMA_PATH)


def missing_schema() -> tuple[str, str] | None:
    """None when the schema is there; else ('fail' in a pipeline - TF_BUILD set - or 'skip', the reason).
    On an agent nothing skips silently: a missing schema fails the schema tests."""
    path = schema_path()
    if path.is_file():
        return None
    reason = (f"the Azure Pipelines schema is absent: {path} (set {SCHEMA_VARIABLE}, or put shared/schemas "
              "beside the repository)")
    if os.environ.get("TF_BUILD"):
        return "fail", reason + "; in a pipeline the build stage fetches it (steps/fetch-pipeline-schema.yml)"
    return "skip", reason

# The pipelines of this repository (root files Azure DevOps runs) and the folder of shared templates.
ROOT_PIPELINES = ("azure-pipelines.yml", "pipelines/release.yml", "pipelines/drift.yml")
TEMPLATES_DIR = REPO_ROOT / "pipelines/templates"

EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
WHOLE_EXPR = re.compile(r"^\s*\$\{\{(.*)\}\}\s*$", re.DOTALL)
DIRECTIVE = re.compile(r"^\$\{\{\s*(if|elseif|else|each)\b(.*?)\}\}$", re.DOTALL)
# Which schema definition a template file's body is checked against, by its top-level list.
TEMPLATE_KINDS = {
    "stages": "stagesTemplate",
    "jobs": "jobsTemplate",
    "steps": "stepsTemplate",
    "variables": "variablesTemplate",
}


class ExpansionError(Exception):
    """The pipeline cannot be expanded: a bad reference, parameter, expression, or unsupported construct."""


@cache
def _parsed(path: Path, mtime: float) -> Any:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)  # a safe loader (C or pure Python)


def load_yaml(path: Path) -> Any:
    """The parsed file (parsed once per content; each caller gets its own copy)."""
    path = Path(path).resolve()
    return copy.deepcopy(_parsed(path, path.stat().st_mtime))


def rel(path: Path) -> str:
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------------- expressions
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<id>[A-Za-z_][A-Za-z0-9_\-]*)"
    r"|(?P<op>[()\[\],.]))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ExpansionError(f"cannot parse expression {text!r} at {text[pos:]!r}")
        kind = match.lastgroup
        out.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _to_str(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value != ""
    return bool(value)


def _coerce_like(left: Any, right: Any) -> Any:
    """Azure DevOps converts the right operand to the left one's type for comparisons."""
    if isinstance(left, bool) and isinstance(right, str):
        return {"true": True, "false": False}.get(right.strip().lower(), right)
    if isinstance(left, str) and not isinstance(right, str):
        return _to_str(right)
    return right


def _equal(left: Any, right: Any) -> bool:
    right = _coerce_like(left, right)
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    return left == right


def _format(fmt: str, *args: Any) -> str:
    return re.sub(r"\{(\d+)\}", lambda m: _to_str(args[int(m.group(1))]), fmt)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "eq": lambda a, b: _equal(a, b),
    "ne": lambda a, b: not _equal(a, b),
    "and": lambda *xs: all(_truthy(x) for x in xs),
    "or": lambda *xs: any(_truthy(x) for x in xs),
    "not": lambda x: not _truthy(x),
    "in": lambda x, *xs: any(_equal(x, y) for y in xs),
    "notIn": lambda x, *xs: not any(_equal(x, y) for y in xs),
    "containsValue": lambda coll, x: any(
        _equal(y, x) for y in (coll.values() if isinstance(coll, dict) else coll)
    ),
    "contains": lambda s, sub: _to_str(sub).casefold() in _to_str(s).casefold(),
    "startsWith": lambda s, p: _to_str(s).casefold().startswith(_to_str(p).casefold()),
    "endsWith": lambda s, p: _to_str(s).casefold().endswith(_to_str(p).casefold()),
    "replace": lambda s, old, new: _to_str(s).replace(_to_str(old), _to_str(new)),
    "format": _format,
    "coalesce": lambda *xs: next((x for x in xs if x not in (None, "")), ""),
    "lower": lambda s: _to_str(s).lower(),
    "upper": lambda s: _to_str(s).upper(),
    "length": lambda x: len(x),
    "join": lambda sep, xs: _to_str(sep).join(_to_str(x) for x in xs),
}


class _Parser:
    def __init__(self, text: str, context: dict[str, Any]) -> None:
        self.text, self.tokens, self.pos, self.context = text, _tokens(text), 0, context

    def parse(self) -> Any:
        value = self.expr()
        if self.pos != len(self.tokens):
            raise ExpansionError(
                f"unexpected {self.tokens[self.pos][1]!r} in expression {self.text.strip()!r}"
            )
        return value

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ExpansionError(f"expected {value or 'more'} in expression {self.text.strip()!r}")
        self.pos += 1
        return token

    def expr(self) -> Any:
        value = self.primary()
        while (token := self.peek()) and token[1] in (".", "["):
            self.take()
            if token[1] == ".":
                key = self.take()[1]
            else:
                key = self.expr()
                self.take("]")
            value = self.member(value, key)
        return value

    def member(self, value: Any, key: Any) -> Any:
        if isinstance(value, dict):
            if key not in value and not hasattr(type(value), "__missing__"):
                raise ExpansionError(f"{key!r} is not defined (expression {self.text.strip()!r})")
            return value[key]
        if isinstance(value, list) and isinstance(key, int):
            return value[key]
        raise ExpansionError(f"cannot read {key!r} of {value!r} in expression {self.text.strip()!r}")

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "op" and text == "(":
            value = self.expr()
            self.take(")")
            return value
        if kind != "id":
            raise ExpansionError(f"unexpected {text!r} in expression {self.text.strip()!r}")
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered == "null":
            return None
        if (token := self.peek()) and token[1] == "(":
            self.take("(")
            args: list[Any] = []
            while (token := self.peek()) and token[1] != ")":
                args.append(self.expr())
                if (token := self.peek()) and token[1] == ",":
                    self.take(",")
            self.take(")")
            functions = {**FUNCTIONS, **self.context.get("__functions__", {})}
            function = next((f for name, f in functions.items() if name.lower() == lowered), None)
            if function is None:
                raise ExpansionError(f"function {text}() is not supported by the expansion model")
            return function(*args)
        if text not in self.context:
            raise ExpansionError(
                f"{text!r} is not available at compile time (expression {self.text.strip()!r})"
            )
        return self.context[text]


def evaluate(text: str, context: dict[str, Any]) -> Any:
    return _Parser(text, context).parse()


def substitute(value: str, context: dict[str, Any]) -> Any:
    """A string with ``${{ }}``: the value itself when the whole string is one expression, else interpolated
    text."""
    whole = WHOLE_EXPR.match(value)
    if whole and "${{" not in whole.group(1):
        return evaluate(whole.group(1), context)
    return EXPR.sub(lambda m: _to_str(evaluate(m.group(1), context)), value)


# --------------------------------------------------------------------------------------------- parameters
SCALAR_TYPES = {"string": (str, int, float, bool), "number": (int, float), "boolean": (bool,)}
LIST_TYPES = {"stepList", "jobList", "stageList", "deploymentList", "containerList", "stringList"}
MAPPING_TYPES = {"step", "job", "stage", "deployment", "container", "pool"}


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    has_default: bool
    default: Any = None
    values: tuple[Any, ...] | None = None


def declared_parameters(document: Any, where: str) -> list[Parameter]:
    """The parameters a pipeline or template declares (list syntax, or the legacy mapping of defaults)."""
    raw = document.get("parameters") if isinstance(document, dict) else None
    if raw is None:
        return []
    if isinstance(raw, dict):
        return [Parameter(name, "object", True, default) for name, default in raw.items()]
    out = []
    for item in raw:
        if not isinstance(item, dict) or "name" not in item:
            raise ExpansionError(f"{where}: parameter declaration {item!r} has no name")
        values = item.get("values")
        out.append(
            Parameter(
                item["name"],
                item.get("type", "object"),
                "default" in item,
                item.get("default"),
                tuple(values) if values is not None else None,
            )
        )
    return out


def parameter_problems(params: list[Parameter], passed: dict[str, Any], where: str) -> list[str]:
    """Unknown, missing, mistyped and not-allowed parameter values: each problem one line naming ``where``."""
    problems = []
    names = {p.name for p in params}
    for name in passed:
        if name not in names:
            problems.append(
                f"{where}: unknown parameter {name!r} (declared: {', '.join(sorted(names)) or 'none'})"
            )
    for param in params:
        if param.name not in passed:
            if not param.has_default:
                problems.append(f"{where}: required parameter {param.name!r} is not passed")
            continue
        value = passed[param.name]
        if isinstance(value, str) and "${{" in value:
            continue  # known only after the caller is expanded; checked then
        problems.extend(_type_problems(param, value, where))
    return problems


def _type_problems(param: Parameter, value: Any, where: str) -> list[str]:
    problems = []
    expected = SCALAR_TYPES.get(param.type)
    if expected and not isinstance(value, expected):
        problems.append(f"{where}: parameter {param.name!r} must be a {param.type}, got {value!r}")
    elif param.type == "number" and isinstance(value, bool):
        problems.append(f"{where}: parameter {param.name!r} must be a number, got {value!r}")
    elif param.type in LIST_TYPES and not isinstance(value, list):
        problems.append(f"{where}: parameter {param.name!r} must be a {param.type} (a list), got {value!r}")
    elif param.type in MAPPING_TYPES and not isinstance(value, dict) and param.type != "pool":
        problems.append(
            f"{where}: parameter {param.name!r} must be a {param.type} (a mapping), got {value!r}"
        )
    if param.values is not None and not any(_equal(_to_str(v), _to_str(value)) for v in param.values):
        problems.append(
            f"{where}: parameter {param.name!r} is {value!r}, allowed: {', '.join(map(str, param.values))}"
        )
    return problems


def bind(params: list[Parameter], passed: dict[str, Any], where: str) -> dict[str, Any]:
    problems = parameter_problems(params, passed, where)
    if problems:
        raise ExpansionError("\n".join(problems))
    bound = {}
    for param in params:
        value = passed.get(param.name, param.default)
        if param.type == "string" and isinstance(value, (int, float, bool)):
            value = _to_str(value)
        bound[param.name] = value
    return bound


# --------------------------------------------------------------------------------------------- templates
@dataclass
class Instance:
    """One use of a template file: the file, its parameters, and its body after expansion."""

    path: Path
    parameters: dict[str, Any]
    body: dict[str, Any]


@dataclass
class Expander:
    aliases: dict[str, Path] = field(default_factory=lambda: {"self": REPO_ROOT})
    instances: list[Instance] = field(default_factory=list)

    def resolve(self, reference: str, including: Path) -> Path:
        return resolve_reference(reference, including, self.aliases)

    def expand_pipeline(self, path: Path, runtime: dict[str, Any] | None = None) -> dict[str, Any]:
        document = load_yaml(path)
        if not isinstance(document, dict):
            raise ExpansionError(f"{rel(path)}: not a YAML mapping")
        return self.expand_root(document, path, runtime or {})

    def expand_root(self, document: dict[str, Any], path: Path, runtime: dict[str, Any]) -> dict[str, Any]:
        params = bind(declared_parameters(document, rel(path)), runtime, rel(path))
        context = {"parameters": params}
        out = self.node({k: v for k, v in document.items() if k != "parameters"}, context, path)
        if "parameters" in document:
            out = {"parameters": document["parameters"], **out}
        if isinstance(out.get("extends"), dict):
            extends = out.pop("extends")
            target = self.resolve(extends["template"], path)
            body = self.instantiate(target, extends.get("parameters") or {})
            out.update({k: v for k, v in body.items() if k != "parameters"})
        return out

    def instantiate(self, path: Path, passed: dict[str, Any]) -> dict[str, Any]:
        if not path.is_file():
            raise ExpansionError(f"template {rel(path)} does not exist")
        document = load_yaml(path)
        if not isinstance(document, dict):
            raise ExpansionError(f"{rel(path)}: a template must be a YAML mapping")
        if not isinstance(passed, dict):
            raise ExpansionError(f"{rel(path)}: parameters must be a mapping, got {passed!r}")
        params = bind(declared_parameters(document, rel(path)), passed, rel(path))
        body = self.node(
            {k: v for k, v in document.items() if k != "parameters"}, {"parameters": params}, path
        )
        self.instances.append(
            Instance(
                path,
                params,
                {**({"parameters": document["parameters"]} if "parameters" in document else {}), **body},
            )
        )
        return body

    def node(self, value: Any, context: dict[str, Any], path: Path) -> Any:
        if isinstance(value, dict):
            return self.mapping(value, context, path)
        if isinstance(value, list):
            return self.sequence(value, context, path)
        if isinstance(value, str) and "${{" in value:
            try:
                return substitute(value, context)
            except ExpansionError as error:
                raise ExpansionError(f"{rel(path)}: {error}") from None
        return value

    def _directive_bodies(
        self, items: list[tuple[str, Any]], context: dict[str, Any], path: Path
    ) -> Iterator[tuple[Any, dict[str, Any]] | tuple[str, Any]]:
        """Yields ('body', value, context) for taken directive branches, ('plain', key, value) otherwise."""
        chain_open, chain_taken = False, False
        for key, value in items:
            match = DIRECTIVE.match(key.strip()) if isinstance(key, str) else None
            if not match:
                chain_open = False
                yield ("plain", key, value)
                continue
            word, rest = match.group(1), match.group(2).strip()
            if word == "if":
                chain_open, chain_taken = True, _truthy(evaluate(rest, context))
                if chain_taken:
                    yield ("body", value, context)
            elif word in ("elseif", "else"):
                if not chain_open:
                    raise ExpansionError(f"{rel(path)}: ${{{{ {word} }}}} without a preceding ${{{{ if }}}}")
                if not chain_taken and (word == "else" or _truthy(evaluate(rest, context))):
                    chain_taken = True
                    yield ("body", value, context)
                if word == "else":
                    chain_open = False
            else:  # each
                each = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s+in\s+(.+)$", rest, re.DOTALL)
                if not each:
                    raise ExpansionError(f"{rel(path)}: cannot parse {key!r}")
                collection = evaluate(each.group(2), context)
                items_ = collection.items() if isinstance(collection, dict) else collection
                for item in items_:
                    if isinstance(collection, dict):
                        item = {"key": item[0], "value": item[1]}
                    yield ("body", value, {**context, each.group(1): item})
                chain_open = False

    def mapping(self, value: dict[Any, Any], context: dict[str, Any], path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for entry in self._directive_bodies(list(value.items()), context, path):
            if entry[0] == "body":
                body = self.node(entry[1], entry[2], path)
                if not isinstance(body, dict):
                    raise ExpansionError(f"{rel(path)}: a directive inside a mapping must hold a mapping")
                out.update(body)
            else:
                key = self.node(entry[1], context, path)
                out[key] = self.node(entry[2], context, path)
        return out

    def sequence(self, value: list[Any], context: dict[str, Any], path: Path) -> list[Any]:
        out: list[Any] = []
        pending: list[tuple[str, Any]] = []  # consecutive directive items: one if/elseif/else chain may span them

        def flush() -> None:
            for entry in self._directive_bodies(pending, context, path):
                body = self.node(entry[1], entry[2], path)
                out.extend(body if isinstance(body, list) else [body])
            pending.clear()

        for item in value:
            if (
                isinstance(item, dict)
                and item
                and all(isinstance(k, str) and DIRECTIVE.match(k.strip()) for k in item)
            ):
                pending.extend(item.items())
                continue
            flush()
            if isinstance(item, str) and WHOLE_EXPR.match(item):
                spliced = self.node(item, context, path)
                if isinstance(spliced, list):
                    out.extend(spliced)
                    continue
                out.append(spliced)
                continue
            if isinstance(item, dict) and "template" in item:
                reference = self.node(item["template"], context, path)
                passed = self.node(item.get("parameters") or {}, context, path)
                extra = set(item) - {"template", "parameters"}
                if extra:
                    raise ExpansionError(
                        f"{rel(path)}: template reference {reference!r} has extra keys {sorted(extra)}"
                    )
                body = self.instantiate(self.resolve(reference, path), passed)
                lists = [k for k in TEMPLATE_KINDS if k in body]
                if len(lists) != 1:
                    raise ExpansionError(
                        f"{reference}: a template must hold exactly one of {list(TEMPLATE_KINDS)}"
                    )
                out.extend(body[lists[0]] or [])
                continue
            out.append(self.node(item, context, path))
        flush()
        return out


def resolve_reference(reference: str, including: Path, aliases: dict[str, Path]) -> Path:
    """A ``template:`` path as Azure DevOps resolves it: relative to the including file, ``/`` from the
    repository root."""
    if "${{" in reference:
        raise ExpansionError(
            f"{rel(including)}: template path {reference!r} is computed; only literal paths are checked"
        )
    ref, _, alias = reference.partition("@")
    if alias and alias not in aliases:
        raise ExpansionError(
            f"{rel(including)}: template {reference!r} names repository {alias!r}, which is not known"
        )
    if alias and alias != "self":
        return (aliases[alias] / ref.lstrip("/")).resolve()
    if ref.startswith("/"):
        return (REPO_ROOT / ref.lstrip("/")).resolve()
    return (including.parent / ref).resolve()


# --------------------------------------------------------------------------------------------- static checks
def template_references(value: Any) -> Iterator[dict[str, Any]]:
    """Every mapping with a ``template:`` key (stage/job/step/variable templates and ``extends``)."""
    if isinstance(value, dict):
        if isinstance(value.get("template"), str):
            yield value
        for child in value.values():
            yield from template_references(child)
    elif isinstance(value, list):
        for child in value:
            yield from template_references(child)


def reference_problems(document: Any, including: Path, aliases: dict[str, Path] | None = None) -> list[str]:
    """Static check of one file: every ``template:`` resolves to a file, every required parameter is passed,
    no unknown parameter is passed, and literal values respect the target's types and ``values:``."""
    aliases = aliases or {"self": REPO_ROOT}
    problems = []
    for ref in template_references(document):
        where = f"{rel(including)} -> {ref['template']}"
        try:
            target = resolve_reference(ref["template"], including, aliases)
        except ExpansionError as error:
            problems.append(str(error))
            continue
        if not target.is_file():
            problems.append(f"{where}: no such file {rel(target)}")
            continue
        passed = ref.get("parameters") or {}
        if not isinstance(passed, dict):
            problems.append(f"{where}: parameters must be a mapping")
            continue
        if any(isinstance(k, str) and "${{" in k for k in passed):
            problems.append(
                f"{where}: conditional parameter keys cannot be checked; pass every parameter plainly"
            )
            continue
        try:
            params = declared_parameters(load_yaml(target), rel(target))
        except ExpansionError as error:
            problems.append(str(error))
            continue
        problems.extend(parameter_problems(params, passed, where))
    return problems


# ------------------------------------------------------------------------------------------ expanded checks
def walk_jobs(pipeline: dict[str, Any]) -> Iterator[tuple[dict[str, Any] | None, dict[str, Any]]]:
    """(stage, job) for every job of an expanded pipeline (stage is None for a jobs-only pipeline)."""
    for stage in pipeline.get("stages") or []:
        for job in stage.get("jobs") or []:
            yield stage, job
    for job in pipeline.get("jobs") or []:
        yield None, job


def job_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    if "deployment" in job:
        strategy = job.get("strategy") or {}
        steps = []
        for hooks in strategy.values():
            for hook_name, hook in (hooks or {}).items():
                if hook_name == "on":
                    for sub in (hook or {}).values():
                        steps.extend((sub or {}).get("steps") or [])
                else:
                    steps.extend((hook or {}).get("steps") or [])
        return steps
    return job.get("steps") or []


def step_script(step: dict[str, Any]) -> str:
    for key in ("script", "bash", "pwsh", "powershell"):
        if isinstance(step.get(key), str):
            return step[key]
    inputs = step.get("inputs") or {}
    return "\n".join(str(inputs[k]) for k in ("inlineScript", "script", "arguments") if k in inputs)


def terraform_action(step: dict[str, Any]) -> str | None:
    """'plan' | 'apply' | 'drift' for a run of steps/terraform.yml; 'apply' for any other step that
    applies."""
    env = step.get("env") or {}
    if "TF_ACTION" in env:
        return str(env["TF_ACTION"])
    script = step_script(step)
    if re.search(r"\bterraform\b(\s+-chdir=\S+)?\s+apply\b|\bcdktf\s+deploy\b", script):
        return "apply"
    return None


SYNTH_COMMANDS = re.compile(
    r"\bmake\s+synth\b|\bcdktf\s+(synth|deploy|diff)\b|\bmain\.py\b|\bmake\s+cli-synth\b"
)


def apply_problems(pipeline: dict[str, Any], where: str) -> list[str]:
    """Every job that applies is a deployment job with an environment, holds the stage lock sequentially,
    downloads the synthesized artifact and the plan, and synthesizes nothing itself."""
    problems = []
    for stage, job in walk_jobs(pipeline):
        steps = job_steps(job)
        if not any(terraform_action(s) == "apply" for s in steps):
            continue
        name = f"{where}: job {job.get('deployment') or job.get('job')!r}"
        if "deployment" not in job:
            problems.append(f"{name} applies but is not a deployment job")
        environment = job.get("environment")
        environment = environment.get("name") if isinstance(environment, dict) else environment
        if not environment:
            problems.append(f"{name} applies without an Azure DevOps environment")
        if stage is not None and stage.get("lockBehavior") != "sequential":
            problems.append(f"{name}: its stage must set lockBehavior: sequential")
        synth = [s for s in steps if s.get("task") == "DownloadPipelineArtifact@2"
                 and (s.get("inputs") or {}).get("artifactName") == "cdktf-out"]
        plans = [s for s in steps if (s.get("env") or {}).get("PLAN_ACTION") == "download"]
        if not synth or not plans:
            problems.append(
                f"{name} must download both the synthesized stacks and the plan"
                f" (found {len(synth)} stack and {len(plans)} plan downloads)"
            )
        for step in steps:
            if SYNTH_COMMANDS.search(step_script(step)):
                problems.append(f"{name} re-synthesizes in step {step.get('displayName')!r}")
            if terraform_action(step) == "apply":
                env = (step.get("env") or {}).get("TF_ENVIRONMENT")
                if env is not None and environment and env != environment:
                    problems.append(f"{name} applies {env!r} inside environment {environment!r}")
    return problems


def terraform_steps(pipeline: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for _stage, job in walk_jobs(pipeline):
        for step in job_steps(job):
            if terraform_action(step):
                yield job, step


def targeted_environments(pipeline: dict[str, Any]) -> dict[str, set[str]]:
    """Environment names per Terraform action, plus 'deployment' for the Azure DevOps environments of
    deployment jobs."""
    found: dict[str, set[str]] = {}
    for _stage, job in walk_jobs(pipeline):
        if "deployment" in job:
            environment = job.get("environment")
            environment = environment.get("name") if isinstance(environment, dict) else environment
            found.setdefault("deployment", set()).add(str(environment))
    for _job, step in terraform_steps(pipeline):
        env = (step.get("env") or {}).get("TF_ENVIRONMENT", "?")
        found.setdefault(terraform_action(step), set()).add(str(env))
    return found


def connection_step(before: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The last steps/service-connection.yml step (AzureCLI@2 named ``connection``) among ``before``."""
    found = [s for s in before if s.get("task") == "AzureCLI@2" and s.get("name") == "connection"]
    return found[-1] if found else None


# What the Terraform step must hand Terraform (azurerm provider and backend: OIDC of the ADO service
# connection) and kubelogin (Azure/kubelogin v0.2.19 --login azurepipelines: pkg/internal/env/variables.go,
# pkg/internal/token/options.go UpdateFromEnv, azurepipelinescredential.go).
TERRAFORM_IDENTITY_ENV = {
    "ARM_USE_OIDC": "true",
    "ARM_USE_CLI": "false",
    "ARM_CLIENT_ID": "$(connection.clientId)",
    "ARM_TENANT_ID": "$(connection.tenantId)",
    "ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID": "$(connection.serviceConnectionId)",
    "ARM_OIDC_REQUEST_TOKEN": "$(System.AccessToken)",
    "ARM_OIDC_REQUEST_URL": "$(System.OidcRequestUri)",
}
KUBELOGIN_PIPELINE_ENV = {
    "TF_VAR_kubelogin_login_mode": "azurepipelines",
    "SYSTEM_ACCESSTOKEN": "$(System.AccessToken)",
    "SYSTEM_OIDCREQUESTURI": "$(System.OidcRequestUri)",
    "AZURESUBSCRIPTION_CLIENT_ID": "$(connection.clientId)",
    "AZURESUBSCRIPTION_TENANT_ID": "$(connection.tenantId)",
    "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": "$(connection.serviceConnectionId)",
}


def identity_problems(pipeline: dict[str, Any], where: str) -> list[str]:
    """Terraform runs with the environment's own service connection (resolved by a step before it, as
    azure-platform-<env>) through OIDC, never the CLI; no secret is set anywhere."""
    problems = []
    for environment, action, before, step in terraform_jobs(pipeline):
        name = f"{where}: {action} {environment}"
        connection = connection_step(before)
        if connection is None:
            problems.append(f"{name} runs Terraform without resolving its service connection first")
        elif (connection.get("inputs") or {}).get("azureSubscription") != f"azure-platform-{environment}":
            problems.append(
                f"{name} must use service connection azure-platform-{environment}, "
                f"got {(connection.get('inputs') or {}).get('azureSubscription')!r}"
            )
        env = step.get("env") or {}
        for key, value in TERRAFORM_IDENTITY_ENV.items():
            if str(env.get(key)) != value:
                problems.append(f"{name}: the Terraform step's env {key} must be {value!r}, got {env.get(key)!r}")
    for name, value in _all_env(pipeline):
        if re.search(r"SECRET|PASSWORD|ACCESS_KEY|SAS_TOKEN", name) and value not in (None, ""):
            problems.append(
                f"{where}: environment variable {name} is set to a value; no secrets in pipelines"
            )
    return problems


def _all_env(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, child in value.items():
            if key in ("env", "variables") and isinstance(child, dict):
                yield from child.items()
            yield from _all_env(child)
    elif isinstance(value, list):
        for child in value:
            yield from _all_env(child)


# --------------------------------------------------------------------------------------------- schema
@cache
def schema() -> dict[str, Any]:
    return json.loads(schema_path().read_text(encoding="utf-8"))


@cache
def _validator(definition: str | None):
    import jsonschema

    full = schema()
    document = full if definition is None else {**full, "oneOf": None, "$ref": f"#/definitions/{definition}"}
    document = {k: v for k, v in document.items() if v is not None}
    return jsonschema.Draft7Validator(document)


def as_yaml_text(value: Any) -> Any:
    """The document as the schema expects it: pipeline structure as YAML text (every scalar a string:
    ``fetchDepth: 1`` is "1", ``true`` matches the schema's boolean patterns as "true"), while task ``inputs``
    keep their YAML types (the schema types them: ``addToPath: true`` must be a boolean)."""
    if isinstance(value, dict):
        return {
            as_yaml_text(k): (v if k == "inputs" and isinstance(v, dict) else as_yaml_text(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [as_yaml_text(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _leaves(error) -> list:
    if not error.context:
        return [error]
    return [leaf for child in error.context for leaf in _leaves(child)]


@cache
def _schema_messages(text: str, definition: str | None) -> tuple[str, ...]:
    validator = _validator(definition)
    problems = []
    for error in validator.iter_errors(json.loads(text)):
        leaves = _leaves(error)
        depth = max(len(leaf.absolute_path) for leaf in leaves)
        for leaf in [leaf for leaf in leaves if len(leaf.absolute_path) == depth][:3]:
            location = "/".join(str(p) for p in leaf.absolute_path) or "<root>"
            problems.append(f"at {location}: {leaf.message[:300]}")
    return tuple(sorted(set(problems)))


_PLACEHOLDER_STEP = {"script": "true"}


def _split_steps(value: Any, steps: list[Any]) -> Any:
    """A copy of ``value`` with every ``steps:`` list replaced by one placeholder step; the steps go to
    ``steps``."""
    if isinstance(value, dict):
        out = {}
        for key, child in value.items():
            if key == "steps" and isinstance(child, list):
                steps.extend(child)
                out[key] = [_PLACEHOLDER_STEP] if child else []
            else:
                out[key] = _split_steps(child, steps)
        return out
    if isinstance(value, list):
        return [_split_steps(child, steps) for child in value]
    return value


def schema_problems(document: Any, where: str, definition: str | None = None) -> list[str]:
    """Schema errors of a pipeline (``definition=None``) or of a template body (e.g. 'stepsTemplate').
    For an anyOf/oneOf failure the deepest alternatives' messages are reported (they say what is wrong).
    The document is checked as its skeleton (every steps list cut to a placeholder) plus each step on its own
    against the schema's steps definition - the same rules, but a step that appears in many runtime
    combinations is validated once (the schema's task alternatives make step validation the slow part)."""
    steps: list[Any] = []
    skeleton = _split_steps(document, steps)
    problems = [f"{where}: {m}" for m in _schema_messages(json.dumps(as_yaml_text(skeleton), sort_keys=True),
                                                             definition)]
    for step in steps:
        text = json.dumps(as_yaml_text({"steps": [step]}), sort_keys=True)
        label = step.get("displayName") or step.get("name") if isinstance(step, dict) else None
        problems += [f"{where}: step {label!r}: {m}" for m in _schema_messages(text, "stepsTemplate")]
    return sorted(set(problems))


def template_kind(document: Any) -> str | None:
    if isinstance(document, dict):
        kinds = [k for k in TEMPLATE_KINDS if k in document]
        return TEMPLATE_KINDS[kinds[0]] if len(kinds) == 1 else None
    return None


def has_template_expressions(value: Any) -> bool:
    """True when the raw file holds any ``${{ }}``: such a file is schema-checked in its expanded form (an
    expression key, a spliced list item or an expression in a constrained field - a job name, a boolean -
    cannot match the schema before expansion)."""
    if isinstance(value, dict):
        return any(has_template_expressions(k) or has_template_expressions(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_template_expressions(v) for v in value)
    return isinstance(value, str) and "${{" in value


def runtime_combinations(path: Path) -> list[dict[str, Any]]:
    """Every combination of a root pipeline's runtime parameter values: each ``values:`` entry, both booleans,
    and the default for anything else (a parameter with neither values nor default is an error)."""
    params = declared_parameters(load_yaml(path), rel(path))
    choices = []
    for param in params:
        if param.values is not None:
            choices.append([(param.name, v) for v in param.values])
        elif param.type == "boolean":
            choices.append([(param.name, True), (param.name, False)])
        elif param.has_default:
            choices.append([(param.name, param.default)])
        else:
            raise ExpansionError(
                f"{rel(path)}: runtime parameter {param.name!r} has neither values nor a default"
            )
    return [dict(combo) for combo in itertools.product(*choices)] if choices else [{}]


def all_pipeline_files() -> list[Path]:
    files = [REPO_ROOT / p for p in ROOT_PIPELINES]
    files += sorted(p for p in (REPO_ROOT / "pipelines").rglob("*.y*ml") if p.is_file())
    return sorted(set(files))


def coverage_problems(targets: set[str], expected: set[str], where: str) -> list[str]:
    """The environments a pipeline can target must be exactly the app's pipeline targets."""
    problems = []
    for name in sorted(expected - targets):
        problems.append(
            f"{where}: environment {name!r} is a stack of the app but no pipeline path targets it"
        )
    for name in sorted(targets - expected):
        problems.append(f"{where}: targets {name!r}, which is not a pipeline target of the app")
    return problems



# --------------------------------------------------------------------------------------------- cluster access
EXACT_RELEASE = re.compile(r"^v?\d+\.\d+\.\d+$")
ADO_MACRO = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*\.[A-Za-z0-9_.]+)\)")


def terraform_jobs(
    pipeline: dict[str, Any],
) -> Iterator[tuple[str, str, list[dict[str, Any]], dict[str, Any]]]:
    """(environment, action, the steps before it, the step) for the first Terraform step of every job that
    runs one."""
    for _stage, job in walk_jobs(pipeline):
        steps = job_steps(job)
        for index, step in enumerate(steps):
            action = terraform_action(step)
            if action:
                environment = str((step.get("env") or {}).get("TF_ENVIRONMENT", "?"))
                yield environment, action, steps[:index], step
                break


SHA256 = re.compile(r"^[0-9a-f]{64}$")


def installer(before: list[dict[str, Any]], version_variable: str) -> dict[str, Any] | None:
    """The last step among ``before`` that installs a tool pinned by ``<version_variable>`` and
    ``<..._SHA256>`` in its env (steps/install-*.yml)."""
    found = [s for s in before if version_variable in (s.get("env") or {})]
    return found[-1] if found else None


def kubelogin_problems(pipeline: dict[str, Any], where: str) -> list[str]:
    """Every job that runs Terraform first installs kubelogin at an exact release whose zip's SHA-256 is
    pinned and verified (no installer task: KubeloginInstaller@0 checks no checksum), and runs kubelogin in
    its Azure Pipelines mode with everything that mode reads."""
    problems = []
    for environment, action, before, step in terraform_jobs(pipeline):
        name = f"{where}: {action} {environment}"
        if any(str(s.get("task", "")).lower().startswith("kubelogininstaller") for s in before):
            problems.append(f"{name} installs kubelogin with KubeloginInstaller (no checksum)")
        install = installer(before, "KUBELOGIN_VERSION")
        if install is None:
            problems.append(f"{name} runs Terraform without installing kubelogin first")
            continue
        env = install.get("env") or {}
        if not EXACT_RELEASE.match(str(env.get("KUBELOGIN_VERSION"))):
            problems.append(f"{name} installs kubelogin {env.get('KUBELOGIN_VERSION')!r}; pin an exact release")
        if not SHA256.match(str(env.get("KUBELOGIN_SHA256"))):
            problems.append(f"{name} installs kubelogin without a pinned SHA-256")
        if '"$actual" != "$KUBELOGIN_SHA256"' not in step_script(install):
            problems.append(f"{name}: the kubelogin installer does not compare the zip's SHA-256")
        terraform_env = step.get("env") or {}
        for key, value in KUBELOGIN_PIPELINE_ENV.items():
            if str(terraform_env.get(key)) != value:
                problems.append(f"{name}: kubelogin needs env {key} = {value!r}, got {terraform_env.get(key)!r}")
    return problems


def kubeconfig_problems(pipeline: dict[str, Any], where: str, variables: dict[str, str]) -> list[str]:
    """For every environment in ``variables`` (environment -> name of the stack's kubeconfig variable), each
    job that runs Terraform first downloads secure file kubeconfig-<environment> and makes it private, and the
    Terraform step's own ``env:`` maps TF_VAR_<variable> to it (``env:`` keeps the name's case;
    ``##vso[task.setvariable]`` would upper-case it)."""
    problems = []
    for environment, action, before, step in terraform_jobs(pipeline):
        if environment not in variables:
            continue
        name = f"{where}: {action} {environment}"
        downloads = [
            s
            for s in before
            if s.get("task") == "DownloadSecureFile@1"
            and (s.get("inputs") or {}).get("secureFile") == f"kubeconfig-{environment}"
        ]
        if not downloads:
            problems.append(f"{name} does not download secure file kubeconfig-{environment}")
            continue
        path = f"$({downloads[-1].get('name')}.secureFilePath)"
        after = before[before.index(downloads[-1]) :]
        if not any('chmod 600 "$KUBECONFIG_FILE"' in step_script(s) and (s.get("env") or {}).get(
                "KUBECONFIG_FILE") == path for s in after):
            problems.append(f"{name} does not chmod 600 the kubeconfig")
        variable = f"TF_VAR_{variables[environment]}"
        if (step.get("env") or {}).get(variable) != path:
            problems.append(f"{name}: the Terraform step's env does not map {variable} to the kubeconfig")
    return problems


SETVARIABLE = re.compile(r"##vso\[task\.setvariable ([^\]]*)\]")


def setvariable_problems(pipeline: dict[str, Any], where: str) -> list[str]:
    """No step sets a case-sensitive variable through ``##vso[task.setvariable]`` without ``preservecase``:
    the agent upper-cases the names of the environment variables it makes from pipeline variables
    (azure-pipelines-agent VarUtil.ConvertToEnvVariableFormat, preserveCase false unless the command says
    preservecase=true: TaskCommandExtension.cs), and Terraform matches TF_VAR_ names case-sensitively.
    Output variables (isOutput=true) are read as $(step.name) macros, not environment variables."""
    problems = []
    for _stage, job in walk_jobs(pipeline):
        for step in job_steps(job):
            for match in SETVARIABLE.finditer(step_script(step)):
                props = dict(
                    part.split("=", 1) for part in match.group(1).split(";") if "=" in part
                )
                name = props.get("variable", "")
                if props.get("isOutput", "").lower() == "true":
                    continue
                case_sensitive = name.startswith("TF_VAR_") or name != name.upper()
                if case_sensitive and props.get("preservecase", "").lower() != "true":
                    problems.append(
                        f"{where}: step {step.get('displayName')!r} sets {name} through setvariable, which "
                        "upper-cases it; pass it through the step's env: instead"
                    )
    return problems


def helm_login_problems(pipeline: dict[str, Any], where: str, environments: set[str]) -> list[str]:
    """For every environment in ``environments`` (stacks with OCI chart registries), each job that runs
    Terraform first logs helm in to the registries, as the environment's service connection, after the
    synthesized stacks are unpacked; and the Terraform step does not point the helm provider at another
    registry config."""
    problems = []
    for environment, action, before, step in terraform_jobs(pipeline):
        if environment not in environments:
            continue
        name = f"{where}: {action} {environment}"
        unpacked = [i for i, s in enumerate(before) if "cdktf.out.tar.gz" in step_script(s)]
        logins = [
            i
            for i, s in enumerate(before)
            if "helm registry login" in step_script(s) and "az acr login" in step_script(s)
        ]
        if not logins:
            problems.append(f"{name} runs Terraform without logging helm in to its chart registries")
            continue
        login = before[logins[-1]]
        script = step_script(login)
        if login.get("task") != "AzureCLI@2" or (login.get("inputs") or {}).get(
            "azureSubscription"
        ) != f"azure-platform-{environment}":
            problems.append(f"{name}: the helm login must run in AzureCLI@2 as azure-platform-{environment}")
        if (login.get("env") or {}).get("STACK_ENVIRONMENT") != environment:
            problems.append(f"{name}: the helm login reads another stack than {environment}")
        for needle in ("--expose-token", "--password-stdin", "cdk.tf.json", "HELM_CONFIG_HOME"):
            if needle not in script:
                problems.append(f"{name}: the helm login lacks {needle}")
        if not unpacked or unpacked[0] > logins[-1]:
            problems.append(f"{name}: the helm login runs before the synthesized stacks are unpacked")
        if "unset HELM_REGISTRY_CONFIG HELM_REGISTRY_CONFIG_PATH" not in step_script(step):
            problems.append(f"{name}: the Terraform step may read another helm registry config")
    return problems


def run_inline_script(
    step: dict[str, Any], macros: dict[str, str], env: dict[str, str], cwd: Path | None = None
) -> Any:
    """Runs a step's inline bash script with the Azure DevOps macros it uses replaced by ``macros`` (an
    unknown macro is an error) and ``env`` (PATH included) as its whole environment, in ``cwd`` (default: the
    current directory; on an agent a step starts in the checkout, ``System.DefaultWorkingDirectory``)."""
    import subprocess

    script = step_script(step)
    unknown = sorted({m for m in ADO_MACRO.findall(script) if m not in macros})
    if unknown:
        raise ExpansionError(
            f"step {step.get('displayName')!r} uses macros the test does not model: {unknown}"
        )
    script = ADO_MACRO.sub(lambda m: macros[m.group(1)], script)
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60, cwd=cwd)


# A service repository's pipeline, as docs/pipelines.md shows it, for expanding service-build.yml.
SERVICE_CONSUMER = {
    "trigger": {"branches": {"include": ["main"]}},
    "pr": {"branches": {"include": ["main"]}},
    "resources": {
        "repositories": [
            {
                "repository": "platform",
                "type": "git",
                "name": "Platform/azure-platform",
                "ref": "refs/heads/main",
            }
        ]
    },
    "extends": {
        "template": "pipelines/templates/service-build.yml@platform",
        "parameters": {
            "component": "orders-api",
            "registry": "crplatformshared",
            "registryServiceConnection": "azure-platform-registry",
            "testSteps": [{"script": "make test", "displayName": "Service tests"}],
        },
    },
}


# --------------------------------------------------------------------------------------------- runtime
def condition_holds(
    condition: str | None,
    variables: dict[str, str],
    dependencies: dict[str, Any] | None = None,
    status: str = "Succeeded",
) -> bool:
    """A runtime ``condition:`` evaluated as Azure DevOps would, for the given variables (``Build.Reason``,
    ``Build.SourceBranch``, step output variables as ``step.name``), stage/job ``dependencies``
    (``{'plan_dev': {'result': 'Succeeded', 'outputs': {...}}}``) and the status of what ran before. No condition
    means ``succeeded()``."""
    functions = {
        "succeeded": lambda *names: status == "Succeeded" if not names else all(
            (dependencies or {}).get(n, {}).get("result") == "Succeeded" for n in names),
        "succeededOrFailed": lambda *_: status in ("Succeeded", "Failed"),
        "always": lambda *_: True,
        "failed": lambda *_: status == "Failed",
        "canceled": lambda *_: status == "Canceled",
    }
    text = " ".join(str(condition or "succeeded()").split())
    context = {"variables": variables, "dependencies": dependencies or {}, "__functions__": functions}
    return _truthy(evaluate(text, context))


def reachable_steps(
    pipeline: dict[str, Any], variables: dict[str, str]
) -> Iterator[tuple[dict[str, Any] | None, dict[str, Any], dict[str, Any]]]:
    """(stage, job, step) of every step whose stage, job and own condition hold for ``variables`` when
    everything before succeeded. Stage conditions that read other stages' outputs are taken as true for
    those parts (``dependencies`` resolve to 'true' outputs), so only variables decide."""
    class _Anything(dict):
        def __missing__(self, key: str) -> Any:
            return _Anything(result="Succeeded", outputs=_True())

    class _True(dict):
        def __missing__(self, key: str) -> str:
            return "true"

    deps = _Anything()
    for stage, job in walk_jobs(pipeline):
        if stage is not None and not condition_holds(stage.get("condition"), variables, deps):
            continue
        if not condition_holds(job.get("condition"), variables, deps):
            continue
        for step in job_steps(job):
            if condition_holds(step.get("condition"), variables, deps):
                yield stage, job, step


# Agent-controlled macros a script may use directly (paths and ids the agent sets); everything else reaches a
# script through env: (a branch name, a requester's name, a commit message are chosen by whoever pushes).
SAFE_SCRIPT_MACROS = frozenset({
    "Agent.TempDirectory", "System.DefaultWorkingDirectory", "Pipeline.Workspace", "Build.ArtifactStagingDirectory",
    "Build.SourcesDirectory",
})
ANY_MACRO = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")


def script_macro_problems(pipeline: dict[str, Any], where: str) -> list[str]:
    """Macros other than :data:`SAFE_SCRIPT_MACROS` pasted into a script's source."""
    problems = []
    for _stage, job in walk_jobs(pipeline):
        for step in job_steps(job):
            for macro in sorted(set(ANY_MACRO.findall(step_script(step))) - SAFE_SCRIPT_MACROS):
                problems.append(
                    f"{where}: step {step.get('displayName')!r} pastes $({macro}) into its script; pass it "
                    "through env:"
                )
    return problems


SCRIPT_KEYS = ("bash", "script", "pwsh", "powershell", "inlineScript")


def raw_script_expression_problems(document: Any, where: str) -> list[str]:
    """Template expressions (``${{ }}``) in a raw file's script bodies: a parameter's value would become
    script source; scripts read parameters through env: instead."""
    problems: list[str] = []

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                if key in SCRIPT_KEYS and isinstance(child, str) and "${{" in child:
                    problems.append(f"{where}: a {key} body contains {EXPR.search(child).group(0)!r}")
                visit(child)
        elif isinstance(value, list):
            for child in value:
                visit(child)

    visit(document)
    return problems
