"""Where the version files live, how they are read (round-trip YAML, one-line errors) and written atomically.

Layout: ``<versions dir>/catalog.yaml`` and ``<versions dir>/releases/<environment>.yaml``. The directory is
``versions/`` at the repository root unless ``INFRA_VERSIONS_DIR`` names another (tests work on a copy).
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from infra.errors import ConfigError
from infra.platform_config import REPO_ROOT

VERSIONS_DIR = REPO_ROOT / "versions"
VERSIONS_DIR_VARIABLE = "INFRA_VERSIONS_DIR"
CATALOG_FILE = "catalog.yaml"
RELEASES_DIR = "releases"


def versions_dir() -> Path:
    """The versions directory: ``$INFRA_VERSIONS_DIR`` or ``versions/`` at the repository root. A variable
    that names no folder is reported as itself (not as a missing catalog or release file)."""
    named = os.environ.get(VERSIONS_DIR_VARIABLE)
    if named and not Path(named).is_dir():
        raise ConfigError(f"{VERSIONS_DIR_VARIABLE}={named}: no such folder; allowed: a folder holding "
                          f"{CATALOG_FILE} and {RELEASES_DIR}/ (unset it for {display(VERSIONS_DIR)}/)")
    return Path(named or VERSIONS_DIR)


def catalog_path(directory: Path) -> Path:
    return directory / CATALOG_FILE


def release_path(directory: Path, environment: str) -> Path:
    return directory / RELEASES_DIR / f"{environment}.yaml"


def release_environments(directory: Path) -> list[str]:
    """The environments that have a release file, sorted."""
    return sorted(p.stem for p in (directory / RELEASES_DIR).glob("*.yaml"))


def display(path: Path) -> str:
    """``path`` as messages show it: relative to the repository or the working directory when inside one."""
    resolved = path.resolve()
    for base in (REPO_ROOT, Path.cwd().resolve()):
        try:
            return str(resolved.relative_to(base))
        except ValueError:
            continue
    return str(path)


def yaml() -> YAML:
    """The round-trip YAML instance: keeps comments, key order and quoting; refuses duplicate keys.

    Its indentation matches the committed files: loading and dumping an unchanged file gives the same bytes.
    """
    handler = YAML(typ="rt")
    handler.preserve_quotes = True
    handler.indent(mapping=2, sequence=4, offset=2)
    handler.width = 4096
    return handler


# One parser for every file read: building a YAML instance costs about as much as parsing a small release
# file, and a deployment with hundreds of environments reads hundreds of them on every synth. ruamel resets its
# reader, scanner and parser after each load, error or not.
_PARSER = yaml()


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def parse_text(text: str, source: str) -> Any:
    """Parse YAML ``text`` (from file ``source``) in round-trip mode; any YAML error becomes one line."""
    try:
        return _PARSER.load(text)
    except DuplicateKeyError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else "?"
        key = re.search(r'duplicate key "([^"]*)"', error.problem or "")
        name = key.group(1) if key else "?"
        raise ConfigError(
            f"{source}:{line}: duplicate key {name!r}; allowed: each key once per mapping"
        ) from None
    except MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else "?"
        problem = _one_line(error.problem or error.context or "syntax error")
        raise ConfigError(f"{source}:{line}: invalid YAML: {problem}") from None
    except YAMLError as error:
        raise ConfigError(f"{source}: invalid YAML: {_one_line(str(error))}") from None


def read_text(path: Path) -> str:
    """The file's text; ConfigError (one line) when it is missing or unreadable."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{display(path)}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{display(path)}: is a directory, not a file") from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{display(path)}: cannot read: not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    except OSError as error:
        raise ConfigError(f"{display(path)}: cannot read: {error.strerror or error}") from None


def render(document: Any) -> str:
    """Dump a round-trip document back to text."""
    buffer = io.StringIO()
    yaml().dump(document, buffer)
    return buffer.getvalue()


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically: a temporary file in the same directory, fsynced, then
    ``os.replace``. On any failure the original file is untouched and the temporary file is removed."""
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise ConfigError(
            f"{display(path)}: cannot write: {error.strerror or error}; the file is unchanged"
        ) from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
