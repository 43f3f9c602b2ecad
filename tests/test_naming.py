"""The naming function, table-driven, at and past every azurerm limit."""

import re

import pytest

from building_blocks.naming import (
    KINDS,
    REGION_CODES,
    Namer,
    NamingError,
    dns_zone_name,
    node_pool_name,
    resource_name,
    stable_suffix,
)

SEED = "11111111-1111-1111-1111-111111111111"


@pytest.mark.parametrize(("kind", "environment", "expected"), [
    ("resource_group", "dev", "rg-nwt-dev-weu"),
    ("virtual_network", "dev", "vnet-nwt-dev-weu"),
    ("subnet", "dev", "snet-nwt-dev-weu"),
    ("kubernetes_cluster", "prdweu", "aks-nwt-prdweu-weu"),
    ("log_analytics_workspace", "staging", "log-nwt-staging-weu"),
])
def test_regional_names_follow_the_caf_pattern(kind, environment, expected):
    assert resource_name(kind, workload="nwt", environment=environment, region="westeurope") == expected


@pytest.mark.parametrize(("kind", "pattern"), [
    ("storage_account", r"^stnwtdev[0-9a-f]{4}$"),
    ("key_vault", r"^kv-nwt-dev-[0-9a-f]{4}$"),
    ("container_registry", r"^crnwtdev[0-9a-f]{4}$"),
    ("postgresql_server", r"^psql-nwt-dev-weu-[0-9a-f]{4}$"),
])
def test_globally_unique_names_end_in_a_stable_suffix(kind, pattern):
    name = resource_name(kind, workload="nwt", environment="dev", region="westeurope", unique_seed=SEED)
    assert re.match(pattern, name)
    assert name == resource_name(kind, workload="nwt", environment="dev", region="westeurope", unique_seed=SEED)


def test_suffix_differs_per_subscription_environment_and_kind():
    base = stable_suffix(SEED, "dev", "key_vault")
    assert base != stable_suffix("22222222-2222-2222-2222-222222222222", "dev", "key_vault")
    assert base != stable_suffix(SEED, "staging", "key_vault")
    assert base != stable_suffix(SEED, "dev", "storage_account")


@pytest.mark.parametrize(("workload", "environment", "length"), [
    ("nwt", "a" * 8, 3 + 3 + 1 + 8 + 1 + 4),  # kv-nwt-aaaaaaaa-xxxx = 20
    ("abcdef", "a" * 8, 3 + 6 + 1 + 8 + 1 + 4),  # 23: under the limit of 24
    ("abcdef", "a" * 9, 24),  # exactly 24: the limit itself
])
def test_key_vault_at_the_length_limit(workload, environment, length):
    name = resource_name("key_vault", workload=workload, environment=environment, unique_seed=SEED)
    assert len(name) == length <= 24


def test_key_vault_past_the_length_limit():
    with pytest.raises(NamingError, match=r"key_vault name .* \(25 characters\) breaks the Azure rule: 3-24"):
        resource_name("key_vault", workload="abcdef", environment="a" * 10, unique_seed=SEED)


@pytest.mark.parametrize(("workload", "environment", "ok"), [
    ("ab", "c" * 16, True),  # st + ab + 16 + 4 = 24
    ("ab", "c" * 17, False),  # 25
])
def test_storage_account_at_and_past_24(workload, environment, ok):
    call = lambda: resource_name("storage_account", workload=workload, environment=environment,  # noqa: E731
                                 unique_seed=SEED)
    if ok:
        assert len(call()) == 24 and re.fullmatch(r"[a-z0-9]{3,24}", call())
    else:
        with pytest.raises(NamingError, match="3-24 lowercase letters and digits"):
            call()


def test_storage_account_drops_hyphens():
    name = resource_name("storage_account", workload="nwt", environment="prod-weu", unique_seed=SEED)
    assert "-" not in name and name.startswith("stnwtprodweu")


def test_aks_dns_prefix_at_and_past_54():
    ok = resource_name("aks_dns_prefix", workload="nwt", environment="e" * 42, region="westeurope")
    assert len(ok) == 54
    with pytest.raises(NamingError, match="1-54 letters, digits and -"):
        resource_name("aks_dns_prefix", workload="nwt", environment="e" * 43, region="westeurope")


def test_aks_name_at_and_past_63():
    ok = resource_name("kubernetes_cluster", workload="nwt", environment="e" * 51, region="westeurope")
    assert len(ok) == 63
    with pytest.raises(NamingError, match="1-63 letters"):
        resource_name("kubernetes_cluster", workload="nwt", environment="e" * 52, region="westeurope")


@pytest.mark.parametrize("part", ["workload", "environment", "instance"])
@pytest.mark.parametrize("bad", ["Dev", "dev--x", "-dev", "dev-", "dév", "dev_x", ""])
def test_name_parts_must_be_lowercase_words(part, bad):
    parts = {"workload": "nwt", "environment": "dev", "instance": None, part: bad}
    with pytest.raises(NamingError, match=f"name part {part} = .*allowed: lowercase letters and digits"):
        resource_name("resource_group", region="westeurope", **parts)


def test_unknown_kind_lists_the_allowed_kinds():
    with pytest.raises(NamingError, match="unknown resource kind 'bucket'; allowed: aks_dns_prefix"):
        resource_name("bucket", workload="nwt", environment="dev", region="westeurope")


def test_unknown_region_lists_the_allowed_regions():
    with pytest.raises(NamingError, match="unknown Azure region 'mars'; allowed: westeurope, northeurope"):
        resource_name("resource_group", workload="nwt", environment="dev", region="mars")


def test_regional_kind_needs_a_region():
    with pytest.raises(NamingError, match="resource_group name needs a region"):
        resource_name("resource_group", workload="nwt", environment="dev")


def test_unique_kind_needs_a_seed():
    with pytest.raises(NamingError, match="need a unique_seed"):
        resource_name("key_vault", workload="nwt", environment="dev")


@pytest.mark.parametrize(("name", "ok"), [
    ("system", True), ("user", True), ("a", True), ("a" * 12, True), ("pool1", True),
    ("a" * 13, False), ("1pool", False), ("Pool", False), ("po-ol", False), ("", False),
])
def test_node_pool_names(name, ok):
    if ok:
        assert node_pool_name(name) == name
    else:
        with pytest.raises(NamingError, match="1-12 lowercase letters and digits"):
            node_pool_name(name)


@pytest.mark.parametrize(("label", "parent", "ok"), [
    ("dev", "northwind.example", True),
    ("a" * 63, "northwind.example", True),
    ("a" * 64, "northwind.example", False),
    ("-dev", "northwind.example", False),
    ("dev", "localhost", False),
    ("dev", "bad_zone.example", False),
    ("dev", ".".join(["a" * 63] * 4) + ".com", False),  # 263 characters in all: past 253
])
def test_dns_zone_names(label, parent, ok):
    if ok:
        assert dns_zone_name(label, parent) == f"{label}.{parent}"
    else:
        with pytest.raises(NamingError):
            dns_zone_name(label, parent)


def test_every_kind_produces_a_valid_name_for_every_region():
    namer_names = []
    for region in REGION_CODES:
        namer = Namer(workload="nwt", environment="prdweu", region=region, unique_seed=SEED)
        namer_names += [namer.name(kind) for kind in KINDS]
    assert len(namer_names) == len(KINDS) * len(REGION_CODES)
