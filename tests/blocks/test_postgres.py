"""PostgresServer: private access only, a referenced (never literal) password, HA and backups as asked."""

from __future__ import annotations

import pytest
from cdktf_cdktf_provider_random.password import Password
from cdktf_cdktf_provider_random.provider import RandomProvider

from building_blocks.postgres import PostgresServer
from tests.blocks.azure_helpers import NAMER, SUBNET_ID, TENANT, VNET_ID, only, resources, synth


def server(stack, **overrides):
    if "administrator_password" not in overrides:
        RandomProvider(stack, "random")
        overrides["administrator_password"] = Password(stack, "password", length=32).result
    return PostgresServer(
        stack,
        "postgres",
        namer=NAMER,
        resource_group_name="rg",
        location="westeurope",
        tenant_id=TENANT,
        delegated_subnet_id=SUBNET_ID,
        virtual_network_id=VNET_ID,
        **overrides,
    )


@pytest.fixture(scope="module")
def defaults() -> dict:
    return synth(server)


def test_required_inputs_make_a_private_server_in_the_delegated_subnet(defaults):
    body = only(defaults, "azurerm_postgresql_flexible_server")
    assert body["public_network_access_enabled"] is False
    assert body["delegated_subnet_id"] == SUBNET_ID
    assert body["private_dns_zone_id"].startswith("${azurerm_private_dns_zone.postgres_private_dns_zone_")
    zone = only(defaults, "azurerm_private_dns_zone")
    assert zone["name"] == f"{body['name']}.private.postgres.database.azure.com"
    link = only(defaults, "azurerm_private_dns_zone_virtual_network_link")
    assert (link["virtual_network_id"], link["registration_enabled"]) == (VNET_ID, False)
    assert body["depends_on"] == [
        f"azurerm_private_dns_zone_virtual_network_link.{k}"
        for k in defaults["resource"]["azurerm_private_dns_zone_virtual_network_link"]
    ]


def test_password_is_the_reference_and_entra_auth_is_on(defaults):
    body = only(defaults, "azurerm_postgresql_flexible_server")
    assert body["administrator_password"].startswith("${random_password.password")
    assert body["administrator_password"].endswith(".result}")
    assert body["administrator_login"] == "psqladmin"
    assert body["authentication"] == {
        "active_directory_auth_enabled": True,
        "password_auth_enabled": True,
        "tenant_id": TENANT,
    }


def test_defaults_are_burstable_without_ha_or_geo_backup(defaults):
    body = only(defaults, "azurerm_postgresql_flexible_server")
    assert (body["sku_name"], body["version"], body["storage_mb"], body["auto_grow_enabled"]) == (
        "B_Standard_B2s",
        "16",
        32768,
        True,
    )
    assert (body["backup_retention_days"], body["geo_redundant_backup_enabled"]) == (7, False)
    assert "high_availability" not in body
    assert body["maintenance_window"] == {"day_of_week": 0, "start_hour": 2, "start_minute": 0}
    assert body["lifecycle"] == {"ignore_changes": ["zone", "high_availability[0].standby_availability_zone"]}
    assert resources(defaults, "azurerm_postgresql_flexible_server_database") == {}


def test_production_settings_zone_redundant_ha_and_geo_redundant_backups():
    body = only(
        synth(
            lambda s: server(
                s,
                sku_name="GP_Standard_D2ds_v5",
                high_availability=True,
                geo_redundant_backup=True,
                backup_retention_days=35,
                zone="2",
                standby_zone="3",
                maintenance_day="Tuesday",
                maintenance_start_hour=23,
            )
        ),
        "azurerm_postgresql_flexible_server",
    )
    assert body["high_availability"] == {"mode": "ZoneRedundant", "standby_availability_zone": "3"}
    assert body["zone"] == "2"
    assert (body["backup_retention_days"], body["geo_redundant_backup_enabled"]) == (35, True)
    assert body["maintenance_window"] == {"day_of_week": 2, "start_hour": 23, "start_minute": 0}


def test_databases_are_utf8():
    database = only(
        synth(lambda s: server(s, databases=["product"])), "azurerm_postgresql_flexible_server_database"
    )
    assert (database["name"], database["charset"], database["collation"]) == ("product", "UTF8", "en_US.utf8")


def test_entra_administrator_is_added_to_the_server():
    out = synth(
        lambda s: server(s).add_entra_administrator(
            "dba", object_id="group-object-id", principal_name="dba-group"
        )
    )
    admin = only(out, "azurerm_postgresql_flexible_server_active_directory_administrator")
    assert (admin["object_id"], admin["principal_name"], admin["principal_type"], admin["tenant_id"]) == (
        "group-object-id",
        "dba-group",
        "Group",
        TENANT,
    )


# --- one test per error -------------------------------------------------------------------------------------


def test_a_literal_password_is_refused_without_echoing_it():
    with pytest.raises(
        ValueError,
        match=r"administrator_password = <a literal string>; allowed: a Terraform "
        r"reference",
    ) as raised:
        synth(lambda s: server(s, administrator_password="hunter2-Secret!"))
    assert "hunter2" not in str(raised.value)


def test_a_non_string_password_is_refused():
    with pytest.raises(ValueError, match=r"administrator_password = None; allowed: a Terraform reference"):
        synth(lambda s: server(s, administrator_password=None))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"administrator_login": "admin"}, r"administrator_login = 'admin'; allowed: 1-63 lowercase"),
        ({"administrator_login": "Bad-Login"}, r"administrator_login = 'Bad-Login'; allowed"),
        ({"sku_name": "Standard_D2s_v3"}, r"sku_name = 'Standard_D2s_v3'; allowed: B_Standard_\*"),
        ({"version": "12"}, r"version = '12'; allowed: 14, 15, 16, 17"),
        ({"storage_mb": 1024}, r"storage_mb = 1024; allowed: 32768 to 33553408"),
        ({"backup_retention_days": 36}, r"backup_retention_days = 36; allowed: 7 to 35"),
        (
            {"high_availability": True},
            r"sku_name = 'B_Standard_B2s' with high_availability=True; allowed: a GP_ or MO_",
        ),
        (
            {"sku_name": "GP_Standard_D2ds_v5", "high_availability": True, "standby_zone": "1"},
            r"zone = '1', standby_zone = '1'; allowed: zones '1', '2', '3', different",
        ),
        ({"maintenance_day": "Funday"}, r"maintenance_day = 'Funday'; allowed: Monday"),
        ({"maintenance_start_hour": -1}, r"maintenance_start_hour = -1; allowed: 0 to 23"),
        ({"databases": ["postgres"]}, r"databases entry 'postgres'; allowed: .* not a system database"),
        ({"databases": ["app", "app"]}, r"databases = \['app', 'app'\]; allowed: each name once"),
    ],
)
def test_bad_props_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        synth(lambda s: server(s, **overrides))


def test_an_entra_administrator_id_is_used_once():
    def build(stack):
        block = server(stack)
        block.add_entra_administrator("dba", object_id="a", principal_name="a")
        block.add_entra_administrator("dba", object_id="b", principal_name="b")

    with pytest.raises(ValueError, match=r"add_entra_administrator id 'dba' is already used"):
        synth(build)


def test_an_entra_administrator_principal_type_must_be_known():
    with pytest.raises(ValueError, match=r"principal_type = 'Robot'; allowed: Group, ServicePrincipal, User"):
        synth(
            lambda s: server(s).add_entra_administrator(
                "dba", object_id="a", principal_name="a", principal_type="Robot"
            )
        )


# --- in the composed environments ---------------------------------------------------------------------------


def test_every_cluster_environment_has_a_private_server_with_the_generated_password(synthesized, registry):
    for env in (e for e in registry.environments if e.has_azure_cluster):
        body = next(iter(synthesized.resources(env.name, "azurerm_postgresql_flexible_server").values()))
        assert body["public_network_access_enabled"] is False
        assert body["administrator_password"].startswith("${random_password.")
        assert ("high_availability" in body) is env.production_like, env.name
        assert body["geo_redundant_backup_enabled"] is env.production_like, env.name
    assert "azurerm_postgresql_flexible_server" not in synthesized.stacks["onprem"].get("resource", {})


# --- settings of the server (infra/settings.py) -------------------------------------------------------------


def _settings(**overrides):
    from infra.settings import EnvironmentSettings

    return EnvironmentSettings(
        **{"name": "alpha", "kind": "dev", "address_space": "10.50.0.0/16", **overrides}
    )


def _production(**overrides):
    return _settings(
        **{"kind": "production", "api_server_authorized_ip_ranges": ("203.0.113.0/24",), **overrides}
    )


def test_settings_derive_production_grade_postgres_for_production_like_kinds():
    dev, prod = _settings(), _production()
    assert (
        dev.postgres_sku,
        dev.postgres_high_availability,
        dev.postgres_geo_redundant_backup,
        dev.postgres_backup_retention_days,
    ) == ("B_Standard_B2s", False, False, 7)
    assert (
        prod.postgres_sku,
        prod.postgres_high_availability,
        prod.postgres_geo_redundant_backup,
        prod.postgres_backup_retention_days,
    ) == ("GP_Standard_D2ds_v5", True, True, 35)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: _settings(postgres_sku="Standard_D2s"),
            r"field 'postgres_sku' = 'Standard_D2s'; allowed: a flexible",
        ),
        (
            lambda: _settings(postgres_version="11"),
            r"field 'postgres_version' = '11'; allowed: 14, 15, 16, 17",
        ),
        (lambda: _settings(postgres_storage_mb=1000), r"field 'postgres_storage_mb' = 1000; allowed: 32768"),
        (
            lambda: _settings(postgres_backup_retention_days=3),
            r"field 'postgres_backup_retention_days' = 3; allowed",
        ),
        (
            lambda: _settings(postgres_geo_redundant_backup="yes"),
            r"field 'postgres_geo_redundant_backup' = 'yes'",
        ),
        (
            lambda: _production(postgres_sku="B_Standard_B2s"),
            r"field 'postgres_sku' = 'B_Standard_B2s'; allowed: a "
            r"General Purpose",
        ),
        (
            lambda: _production(availability_zones=("1",)),
            r"field 'postgres_high_availability' = True; allowed: False "
            r"unless availability_zones names at least two zones",
        ),
    ],
)
def test_settings_refuse_bad_postgres_values(build, message):
    from infra.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        build()
