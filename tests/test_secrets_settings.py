"""Bad `secret_rotation` through the real entry point (`python main.py`): one line, exit 2, no traceback."""

from __future__ import annotations

import pytest

from tests.conftest import FIXTURE_VERSIONS
from tests.test_bad_input import assert_one_line_error, environments, replace_in, run_main  # noqa: F401

NON_NEGATIVE = "a non-negative integer"


@pytest.mark.parametrize(("rotation", "fragment", "allowed"), [
    ('{"app-signing-key": -1}', "field 'secret_rotation['app-signing-key']' = -1", NON_NEGATIVE),
    ('{"app-signing-key": 1.5}', "field 'secret_rotation['app-signing-key']' = 1.5", NON_NEGATIVE),
    ('{"app-signing-key": "2"}', "field 'secret_rotation['app-signing-key']' = '2'", NON_NEGATIVE),
    ('{"app-signing-key": True}', "field 'secret_rotation['app-signing-key']' = True", NON_NEGATIVE),
    ('{"signing-key": 1}', "field 'secret_rotation' = 'signing-key'",
     "names of generated secrets: postgres-admin-password, app-signing-key, service-api-key"),
])
def test_bad_rotation_is_one_line(environments, rotation, fragment, allowed):  # noqa: F811
    replace_in(environments / "dev.py", 'kind="dev",', f'kind="dev", secret_rotation={rotation},')
    result = run_main(environments)
    assert_one_line_error(result, "environment 'dev'", "environments/dev.py", fragment, f"allowed: {allowed}")


def test_a_valid_rotation_synthesizes(environments, tmp_path, monkeypatch):  # noqa: F811
    """main.py's entry point in this process (the bad ones above stop before any provider import; this one
    synthesizes, and a fresh process would only add the interpreter and jsii kernel start-up). Only dev's
    stack is built (INFRA_STACKS): the rotation is dev's, and every definition is still loaded."""
    from infra.app import main

    replace_in(environments / "dev.py", 'kind="dev",', 'kind="dev", secret_rotation={"service-api-key": 3},')
    for name, value in {"INFRA_ENVIRONMENTS_DIR": str(environments), "INFRA_VERSIONS_DIR": str(FIXTURE_VERSIONS),
                        "INFRA_OUTDIR": str(tmp_path / "out"), "INFRA_STACKS": "dev"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CDKTF_OUTDIR", raising=False)
    assert main([]) == 0
    assert '"rotation": "3"' in (tmp_path / "out" / "stacks" / "dev" / "cdk.tf.json").read_text()
