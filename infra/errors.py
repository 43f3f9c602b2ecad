"""The one exception type for bad input, and how entry points turn any failure into one line on stderr.

Entry points (``main.py``, the ``infra`` CLI) print a :class:`ConfigError` as a single line and exit non-zero.
A failure that is not a ConfigError (a construct that refuses a value the definitions did not check, a bug)
is shown the same way, as one line, unless ``INFRA_DEBUG=1`` asks for the traceback.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator

DEBUG_VARIABLE = "INFRA_DEBUG"


class ConfigError(Exception):
    """Bad input: a broken environment definition, configuration or version file.

    The message is one line that names the file, environment or field, the value received and what is allowed.
    """

    exit_code = 2


def debug_requested() -> bool:
    """True when ``INFRA_DEBUG=1``: entry points then let an unexpected error end in its traceback."""
    return os.environ.get(DEBUG_VARIABLE, "").strip() == "1"


def describe(error: BaseException) -> str:
    """``error`` as one line: a ConfigError's message; for anything else its type and the first line of its
    message (jsii errors carry a JavaScript stack after it), with how to see the traceback."""
    if isinstance(error, ConfigError):
        return " ".join(str(error).split())
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    first = " ".join(lines[0].split()) if lines else "(no message)"
    shown = first if isinstance(error, ValueError) else f"{type(error).__name__}: {first}"
    return f"{shown} ({DEBUG_VARIABLE}=1 shows the traceback)"


@contextlib.contextmanager
def building_stack(name: str, source: str) -> Iterator[None]:
    """Around the construction of one stack: an error the definitions did not catch becomes a ConfigError
    naming the environment and its file (the building block's message names the field and what is allowed)."""
    try:
        yield
    except ConfigError:
        raise
    except Exception as error:
        raise ConfigError(f"environment {name!r} ({source}): refused while building its stack: "
                          f"{describe(error)}") from error


@contextlib.contextmanager
def interrupts_recorded() -> Iterator[Callable[[], bool]]:
    """Note Ctrl-C (SIGINT) while the block runs, then raise KeyboardInterrupt as usual. The terminal sends
    SIGINT to the jsii kernel (node) too; whatever error its death causes in the main thread, the caller can
    ask ``interrupted()`` and treat it as the interruption it is."""
    seen = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield seen.is_set
        return

    def handler(signum: int, frame: object) -> None:
        seen.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield seen.is_set
    finally:
        signal.signal(signal.SIGINT, previous)


def exit_quietly(message: str, code: int) -> None:
    """Print ``message`` on stderr and end the process now, with ``code``: no atexit hooks run, so the jsii
    kernel's shutdown hook cannot add a BrokenPipe traceback after an interrupted run."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with contextlib.suppress(Exception):
        os.write(sys.stderr.fileno(), f"{message}\n".encode())
    os._exit(code)
