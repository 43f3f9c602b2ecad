"""GeneratedSecret and its policies: exact resources from only the required inputs, one test per error."""

from __future__ import annotations

import json

import cdktf
import pytest
from cdktf_cdktf_provider_random.provider import RandomProvider

from building_blocks.generated_secret import GeneratedSecret, PasswordPolicy, RandomBytesPolicy
from building_blocks.secret_catalog import (
    ENVIRONMENT_SECRETS,
    MIN_KEY_BYTES,
    MIN_PASSWORD_LENGTH,
    SECRET_NAMES,
    SecretDefinition,
)
from building_blocks.secret_set import SecretSet

VAULT_ID = "/subscriptions/1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-test"


def synth(build) -> dict:
    """GIVEN a fresh stack with the random provider, WHEN ``build(stack)`` adds blocks, THEN its JSON."""
    app = cdktf.App()
    stack = cdktf.TerraformStack(app, "test")
    RandomProvider(stack, "random")
    build(stack)
    return json.loads(cdktf.Testing.synth(stack))


def only(resources: dict) -> tuple[str, dict]:
    assert len(resources) == 1, resources
    return next(iter(resources.items()))


# --- the block with only its required inputs ---------------------------------------------------------------

def test_password_defaults_make_a_40_character_password_with_every_class_and_url_safe_specials():
    out = synth(lambda s: GeneratedSecret(s, "db", name="db-password", policy=PasswordPolicy(),
                                          key_vault_id=VAULT_ID))
    logical_id, password = only(out["resource"]["random_password"])
    assert password == {
        "length": 40, "upper": True, "lower": True, "numeric": True, "special": True,
        "min_upper": 2, "min_lower": 2, "min_numeric": 2, "min_special": 2,
        "override_special": "-_.~",
        "keepers": {"rotation": "0"},
    }
    _, secret = only(out["resource"]["azurerm_key_vault_secret"])
    assert secret == {
        "name": "db-password",
        "key_vault_id": VAULT_ID,
        "value": f"${{random_password.{logical_id}.result}}",
        "content_type": "text/plain; charset=us-ascii",
        "tags": {"generated-by": "random_password"},
    }
    assert "random_bytes" not in out["resource"]


def test_random_bytes_policy_makes_a_64_byte_key_stored_as_base64():
    out = synth(lambda s: GeneratedSecret(s, "key", name="signing-key", policy=RandomBytesPolicy(),
                                          key_vault_id=VAULT_ID))
    logical_id, key = only(out["resource"]["random_bytes"])
    assert key == {"length": 64, "keepers": {"rotation": "0"}}
    _, secret = only(out["resource"]["azurerm_key_vault_secret"])
    assert secret["value"] == f"${{random_bytes.{logical_id}.base64}}"
    assert secret["content_type"] == "application/octet-stream; encoding=base64"


def test_no_write_only_attributes_and_no_expiry_by_decision():
    """docs/secrets.md: value (not value_wo) because the random result is in state anyway; no expiration."""
    out = synth(lambda s: GeneratedSecret(s, "db", name="db-password", policy=PasswordPolicy(),
                                          key_vault_id=VAULT_ID))
    _, secret = only(out["resource"]["azurerm_key_vault_secret"])
    assert "value_wo" not in secret and "value_wo_version" not in secret
    assert "expiration_date" not in secret


def test_value_is_a_reference_and_addresses_match_the_synthesized_json():
    blocks = {}

    def build(stack):
        blocks["secret"] = GeneratedSecret(stack, "db", name="db-password", policy=PasswordPolicy(),
                                           key_vault_id=VAULT_ID)

    out = synth(build)
    secret = blocks["secret"]
    assert cdktf.Token.is_unresolved(secret.value)
    kind, logical_id = secret.random_address.split(".")
    assert kind == "random_password" and logical_id in out["resource"]["random_password"]
    kind, logical_id = secret.key_vault_secret_address.split(".")
    assert kind == "azurerm_key_vault_secret" and logical_id in out["resource"]["azurerm_key_vault_secret"]


def test_rotation_description_tags_and_depends_on():
    def build(stack):
        first = GeneratedSecret(stack, "first", name="first", policy=RandomBytesPolicy(),
                                key_vault_id=VAULT_ID)
        GeneratedSecret(stack, "second", name="second", policy=PasswordPolicy(), key_vault_id=VAULT_ID,
                        rotation=3, description="what it is for", tags={"team": "payments"},
                        depends_on=[first.resource])

    out = synth(build)
    (password,) = out["resource"]["random_password"].values()
    assert password["keepers"] == {"rotation": "3"}
    secret = next(s for s in out["resource"]["azurerm_key_vault_secret"].values() if s["name"] == "second")
    assert secret["tags"] == {"generated-by": "random_password", "purpose": "what it is for",
                              "team": "payments"}
    (bytes_id,) = out["resource"]["random_bytes"]
    assert secret["depends_on"] == [f"random_bytes.{bytes_id}"]


def test_a_password_without_special_characters_sets_no_override_special():
    out = synth(lambda s: GeneratedSecret(s, "k", name="api-key",
                                          policy=PasswordPolicy(length=64, special=False, min_special=0),
                                          key_vault_id=VAULT_ID))
    _, password = only(out["resource"]["random_password"])
    assert password["special"] is False and password["min_special"] == 0
    assert "override_special" not in password


# --- errors of the block -----------------------------------------------------------------------------------

def _build_with(**overrides):
    props = {"name": "db-password", "policy": PasswordPolicy(), "key_vault_id": VAULT_ID, **overrides}
    return synth(lambda s: GeneratedSecret(s, "x", **props))


@pytest.mark.parametrize("rotation", [-1, 1.5, "2", True])
def test_rotation_must_be_a_non_negative_integer(rotation):
    with pytest.raises(ValueError, match=r"^GeneratedSecret 'db-password': field 'rotation' = .*; allowed: a "
                                         r"non-negative integer$"):
        _build_with(rotation=rotation)


@pytest.mark.parametrize("name", ["", "DB", "db_password", "-db", "db--password", "a" * 64, 7])
def test_name_must_be_lowercase_with_single_hyphens(name):
    with pytest.raises(ValueError, match=r"^secret name .*; allowed: 1-63 lowercase letters, digits and "
                                         r"single hyphens, starting with a letter$"):
        _build_with(name=name)


def test_policy_must_be_a_policy():
    with pytest.raises(ValueError, match=r"field 'policy' = \{'length': 40\}; allowed: a PasswordPolicy or "
                                         r"RandomBytesPolicy$"):
        _build_with(policy={"length": 40})


def test_key_vault_id_is_required():
    with pytest.raises(ValueError, match=r"field 'key_vault_id' = ''; allowed: the id of a Key Vault"):
        _build_with(key_vault_id="")


# --- policies ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("length", [0, 16, MIN_PASSWORD_LENGTH - 1, 257, 40.0, True])
def test_password_shorter_than_32_or_not_an_integer_is_refused(length):
    with pytest.raises(ValueError, match=r"^PasswordPolicy: field 'length' = .*; allowed: an integer from 32 "
                                         r"to 256 \(shorter passwords are too weak\)$"):
        PasswordPolicy(length=length)


def test_password_of_exactly_32_characters_is_allowed():
    assert PasswordPolicy(length=MIN_PASSWORD_LENGTH).length == 32


@pytest.mark.parametrize("length", [16, MIN_KEY_BYTES - 1, 1025])
def test_key_shorter_than_32_bytes_is_refused(length):
    with pytest.raises(ValueError, match=r"^RandomBytesPolicy: field 'length' = \d+; allowed: an integer "
                                         r"number of bytes from 32 to 1024 \(shorter keys are too weak\)$"):
        RandomBytesPolicy(length=length)


def test_minimum_of_a_disabled_class_is_refused():
    with pytest.raises(ValueError, match=r"^PasswordPolicy: field 'min_special' = 2; allowed: 0 while "
                                         r"special=False$"):
        PasswordPolicy(special=False)


def test_negative_minimum_is_refused():
    with pytest.raises(ValueError, match=r"field 'min_upper' = -1; allowed: a non-negative integer$"):
        PasswordPolicy(min_upper=-1)


def test_minimums_larger_than_the_length_are_refused():
    with pytest.raises(ValueError, match=r"the minimum counts add up to 44, more than length = 40"):
        PasswordPolicy(min_upper=20, min_lower=20)


def test_all_classes_off_is_refused():
    with pytest.raises(ValueError, match=r"at least one character class$"):
        PasswordPolicy(upper=False, lower=False, numeric=False, special=False, min_upper=0, min_lower=0,
                       min_numeric=0, min_special=0)


@pytest.mark.parametrize("special", ["", "ab", "--", "- ", None])
def test_override_special_must_be_distinct_punctuation(special):
    with pytest.raises(ValueError, match=r"field 'override_special' = .*; allowed: 1 or more distinct ASCII "
                                         r"punctuation"):
        PasswordPolicy(override_special=special)


def test_policies_are_frozen():
    with pytest.raises(AttributeError):
        PasswordPolicy().length = 8  # type: ignore[misc]


# --- values checked by the recovery command ----------------------------------------------------------------

def test_password_check_value_accepts_a_fitting_value_and_names_what_does_not_fit():
    policy = PasswordPolicy(length=32)
    good = "AAbb11-_" + "x" * 24
    assert policy.check_value(good) is None
    assert policy.check_value(good[:-1]) == "has 31 characters, the policy makes 32"
    assert policy.check_value(good[:-1] + "!") == "contains characters the policy does not use"
    assert policy.check_value("aabb11-_" + "x" * 24) == ("has 0 upper characters, the policy requires at "
                                                         "least 2")


def test_bytes_check_value_decodes_base64():
    policy = RandomBytesPolicy(length=32)
    assert policy.check_value("A" * 43 + "=") is None
    assert policy.check_value("A" * 44) == "decodes to 33 bytes, the policy makes 32"
    assert policy.check_value("not base64!") == "is not standard base64"


# --- the set of an environment -----------------------------------------------------------------------------

def test_catalogue_has_the_three_secrets_and_every_one_meets_the_minimums():
    assert SECRET_NAMES == ("postgres-admin-password", "app-signing-key", "service-api-key")
    for definition in ENVIRONMENT_SECRETS:
        if isinstance(definition.policy, PasswordPolicy):
            assert definition.policy.length >= MIN_PASSWORD_LENGTH
        else:
            assert definition.policy.length >= MIN_KEY_BYTES


def test_secret_set_creates_one_secret_per_definition_with_its_rotation():
    sets = {}

    def build(stack):
        sets["set"] = SecretSet(stack, "secrets", key_vault_id=VAULT_ID, key_vault_name="kv-test",
                                rotation={"service-api-key": 2})

    out = synth(build)
    secret_set = sets["set"]
    assert list(secret_set.secrets) == list(SECRET_NAMES)
    names = sorted(s["name"] for s in out["resource"]["azurerm_key_vault_secret"].values())
    assert names == sorted(SECRET_NAMES)
    rotations = {secret_set.secrets[n].random_address.split(".")[1]: n for n in SECRET_NAMES}
    keepers = {**out["resource"]["random_password"], **out["resource"]["random_bytes"]}
    assert {rotations[k]: v["keepers"]["rotation"] for k, v in keepers.items()} == {
        "postgres-admin-password": "0", "app-signing-key": "0", "service-api-key": "2"}
    assert set(secret_set.in_cluster) == set(SECRET_NAMES)
    assert all(cdktf.Token.is_unresolved(v) for v in secret_set.references.values())


def test_two_secrets_with_one_name_are_refused():
    duplicate = SecretDefinition(name="app-signing-key", policy=RandomBytesPolicy(), description="again")
    with pytest.raises(ValueError, match=r"^two generated secrets are named 'app-signing-key'; allowed: one "
                                         r"secret per name in an environment$"):
        synth(lambda s: SecretSet(s, "secrets", key_vault_id=VAULT_ID, key_vault_name="kv-test",
                                  definitions=[*ENVIRONMENT_SECRETS, duplicate]))


def test_rotation_of_an_unknown_secret_is_refused():
    with pytest.raises(ValueError, match=r"rotation for 'nope', which is not a generated secret; allowed: "
                                         r"postgres-admin-password, app-signing-key, service-api-key$"):
        synth(lambda s: SecretSet(s, "secrets", key_vault_id=VAULT_ID, key_vault_name="kv-test",
                                  rotation={"nope": 1}))


def test_key_vault_name_must_be_a_literal():
    with pytest.raises(ValueError, match=r"field 'key_vault_name' = '\$\{azurerm_key_vault.x.name\}'"):
        synth(lambda s: SecretSet(s, "secrets", key_vault_id=VAULT_ID,
                                  key_vault_name="${azurerm_key_vault.x.name}"))
