"""Bad `secret_rotation` through the real entry point (`python main.py`): one line, exit 2, no traceback."""

from __future__ import annotations

import pytest

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


def test_a_valid_rotation_synthesizes(environments, tmp_path):  # noqa: F811
    """Only dev's stack is built (INFRA_STACKS): the rotation is dev's, and every definition is still loaded."""
    replace_in(environments / "dev.py", 'kind="dev",', 'kind="dev", secret_rotation={"service-api-key": 3},')
    result = run_main(environments, outdir=tmp_path / "out", variables={"INFRA_STACKS": "dev"})
    assert result.returncode == 0, result.stderr
    assert '"rotation": "3"' in (tmp_path / "out" / "stacks" / "dev" / "cdk.tf.json").read_text()
