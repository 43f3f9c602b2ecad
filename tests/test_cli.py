"""The `infra` console script itself: one-line errors for bad arguments, a quiet exit on a closed pipe."""

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

INFRA = str(Path(sys.executable).parent / "infra")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([INFRA, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)


def test_environments_lists_every_stack(registry):
    result = run("environments")
    assert result.returncode == 0
    assert result.stdout.split() == registry.stack_names


def test_unknown_command_is_one_line_and_exit_2():
    result = run("deploy-everything")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "invalid choice: 'deploy-everything'" in result.stderr and "environments" in result.stderr


def test_closed_pipe_exits_quietly():
    reader = subprocess.Popen(["head", "-c", "1"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    writer = subprocess.run([INFRA, "versions", "show", "dev", "--json"], stdout=reader.stdin,
                            stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT, timeout=60)
    reader.stdin.close()
    reader.wait()
    assert "Traceback" not in writer.stderr
