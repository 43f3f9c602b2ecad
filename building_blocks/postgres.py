"""The product's PostgreSQL flexible server: private access only, in its delegated subnet.

The server has no public endpoint. Its name resolves through a private DNS zone
``<server>.private.postgres.database.azure.com`` linked to the VNet. The administrator password is a Terraform
reference handed in by the generated-secrets block: a literal string is refused, so no password is ever
written into this repository or the synthesized JSON.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import cdktf
from cdktf_cdktf_provider_azurerm.postgresql_flexible_server import (
    PostgresqlFlexibleServer,
    PostgresqlFlexibleServerAuthentication,
    PostgresqlFlexibleServerHighAvailability,
    PostgresqlFlexibleServerMaintenanceWindow,
)
from cdktf_cdktf_provider_azurerm.postgresql_flexible_server_active_directory_administrator import (
    PostgresqlFlexibleServerActiveDirectoryAdministrator,
)
from cdktf_cdktf_provider_azurerm.postgresql_flexible_server_database import PostgresqlFlexibleServerDatabase
from cdktf_cdktf_provider_azurerm.private_dns_zone import PrivateDnsZone
from cdktf_cdktf_provider_azurerm.private_dns_zone_virtual_network_link import (
    PrivateDnsZoneVirtualNetworkLink,
)
from constructs import Construct

from building_blocks.maintenance import check_maintenance_window, sunday_first_index
from building_blocks.naming import Namer

VERSIONS = ("14", "15", "16", "17")
# Logins Azure reserves; the server refuses them.
RESERVED_LOGINS = frozenset(
    {"azure_superuser", "azure_pg_admin", "admin", "administrator", "root", "guest", "public"}
)
_SKU = re.compile(r"^(B|GP|MO)_Standard_[A-Za-z0-9_]+$")
_LOGIN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_DATABASE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class PostgresServer(Construct):
    """A flexible server with private access, password and Entra ID authentication, automatic storage growth
    and (optionally) zone-redundant high availability and geo-redundant backups.

    Attributes: ``server`` (the ``Resource``), ``fqdn``, ``private_dns_zone``, ``databases`` (name →
    database), ``administrator_login``.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        namer: Namer,
        resource_group_name: str,
        location: str,
        tenant_id: str,
        delegated_subnet_id: str,
        virtual_network_id: str,
        administrator_password: str,
        administrator_login: str = "psqladmin",
        sku_name: str = "B_Standard_B2s",
        version: str = "16",
        storage_mb: int = 32768,
        backup_retention_days: int = 7,
        geo_redundant_backup: bool = False,
        high_availability: bool = False,
        zone: str = "1",
        standby_zone: str = "2",
        maintenance_day: str = "Sunday",
        maintenance_start_hour: int = 2,
        databases: Sequence[str] = (),
    ) -> None:
        """Required: ``tenant_id`` (Entra authentication), ``delegated_subnet_id`` (a subnet delegated to
        Microsoft.DBforPostgreSQL/flexibleServers), ``virtual_network_id`` (linked to the private DNS zone),
        ``administrator_password`` (a Terraform reference, e.g. a ``random_password.result``; literals raise).

        Optional: ``administrator_login`` (default psqladmin); ``sku_name`` (default B_Standard_B2s);
        ``version`` (default 16); ``storage_mb`` (default 32768, grows automatically);
        ``backup_retention_days``
        (7-35, default 7); ``geo_redundant_backup`` (default False; fixed at creation); ``high_availability``
        (default False: zone-redundant standby in ``standby_zone``, needs a GP_ or MO_ SKU); ``zone`` /
        ``standby_zone`` (defaults 1 and 2); a weekly maintenance window on ``maintenance_day`` at
        ``maintenance_start_hour`` UTC (defaults Sunday, 2); ``databases`` (UTF8, default none)."""
        super().__init__(scope, id_)
        if not isinstance(administrator_password, str) or not cdktf.Token.is_unresolved(
            administrator_password
        ):
            shown = (
                "<a literal string>"
                if isinstance(administrator_password, str)
                else repr(administrator_password)
            )
            raise ValueError(
                f"PostgresServer administrator_password = {shown}; allowed: a Terraform reference "
                "(e.g. the generated secret's result), never a literal password"
            )
        if administrator_login in RESERVED_LOGINS or not _LOGIN.match(administrator_login):
            raise ValueError(
                f"PostgresServer administrator_login = {administrator_login!r}; allowed: 1-63 "
                "lowercase letters, digits and _, starting with a letter, not one of "
                f"{', '.join(sorted(RESERVED_LOGINS))}"
            )
        if not _SKU.match(sku_name):
            raise ValueError(
                f"PostgresServer sku_name = {sku_name!r}; allowed: B_Standard_*, GP_Standard_* or "
                "MO_Standard_*"
            )
        if version not in VERSIONS:
            raise ValueError(f"PostgresServer version = {version!r}; allowed: {', '.join(VERSIONS)}")
        if (
            isinstance(storage_mb, bool)
            or not isinstance(storage_mb, int)
            or not 32768 <= storage_mb <= 33553408
        ):
            raise ValueError(f"PostgresServer storage_mb = {storage_mb!r}; allowed: 32768 to 33553408")
        if (
            isinstance(backup_retention_days, bool)
            or not isinstance(backup_retention_days, int)
            or not 7 <= backup_retention_days <= 35
        ):
            raise ValueError(
                f"PostgresServer backup_retention_days = {backup_retention_days!r}; allowed: 7 to 35"
            )
        if high_availability and sku_name.startswith("B_"):
            raise ValueError(
                f"PostgresServer sku_name = {sku_name!r} with high_availability=True; allowed: a "
                "GP_ or MO_ SKU (Burstable has no high availability)"
            )
        if (
            zone not in ("1", "2", "3")
            or standby_zone not in ("1", "2", "3")
            or (high_availability and zone == standby_zone)
        ):
            raise ValueError(
                f"PostgresServer zone = {zone!r}, standby_zone = {standby_zone!r}; allowed: zones "
                "'1', '2', '3', different from each other when high_availability is on"
            )
        check_maintenance_window("PostgresServer", maintenance_day, maintenance_start_hour)
        names = list(databases)
        for database in names:
            if not _DATABASE.match(database) or database in ("postgres", "azure_maintenance", "azure_sys"):
                raise ValueError(
                    f"PostgresServer databases entry {database!r}; allowed: 1-63 lowercase letters, "
                    "digits and _, starting with a letter, not a system database"
                )
        if len(set(names)) != len(names):
            raise ValueError(f"PostgresServer databases = {names!r}; allowed: each name once")

        server_name = namer.name("postgresql_server")
        self.private_dns_zone = PrivateDnsZone(
            self,
            "private_dns_zone",
            name=f"{server_name}.private.postgres.database.azure.com",
            resource_group_name=resource_group_name,
        )
        link = PrivateDnsZoneVirtualNetworkLink(
            self,
            "private_dns_zone_link",
            name=namer.name("private_dns_zone_link", "psql"),
            resource_group_name=resource_group_name,
            private_dns_zone_name=self.private_dns_zone.name,
            virtual_network_id=virtual_network_id,
            registration_enabled=False,
        )
        self.administrator_login = administrator_login
        self.server = PostgresqlFlexibleServer(
            self,
            "Resource",
            name=server_name,
            resource_group_name=resource_group_name,
            location=location,
            version=version,
            sku_name=sku_name,
            storage_mb=storage_mb,
            auto_grow_enabled=True,
            zone=zone,
            delegated_subnet_id=delegated_subnet_id,
            private_dns_zone_id=self.private_dns_zone.id,
            public_network_access_enabled=False,
            administrator_login=administrator_login,
            administrator_password=administrator_password,
            authentication=PostgresqlFlexibleServerAuthentication(
                active_directory_auth_enabled=True, password_auth_enabled=True, tenant_id=tenant_id
            ),
            backup_retention_days=backup_retention_days,
            geo_redundant_backup_enabled=geo_redundant_backup,
            high_availability=(
                PostgresqlFlexibleServerHighAvailability(
                    mode="ZoneRedundant", standby_availability_zone=standby_zone
                )
                if high_availability
                else None
            ),
            maintenance_window=PostgresqlFlexibleServerMaintenanceWindow(
                day_of_week=sunday_first_index(maintenance_day), start_hour=maintenance_start_hour, start_minute=0
            ),
            depends_on=[link],  # the server resolves its own name through the zone at creation
            # After a failover Azure swaps primary and standby zones; that is not drift to undo.
            lifecycle=cdktf.TerraformResourceLifecycle(
                ignore_changes=["zone", "high_availability[0].standby_availability_zone"]
            ),
        )
        self.fqdn = self.server.fqdn
        self.databases = {
            name: PostgresqlFlexibleServerDatabase(
                self,
                f"database_{name}",
                name=name,
                server_id=self.server.id,
                charset="UTF8",
                collation="en_US.utf8",
            )
            for name in names
        }
        self._entra_admins: set[str] = set()
        self._tenant_id = tenant_id

    def add_entra_administrator(
        self, id_: str, *, object_id: str, principal_name: str, principal_type: str = "Group"
    ) -> PostgresqlFlexibleServerActiveDirectoryAdministrator:
        """Make an Entra principal (default: a group) an administrator of the server. ``id_`` names it in the
        construct tree; one administrator per id."""
        if id_ in self._entra_admins:
            raise ValueError(
                f"PostgresServer.add_entra_administrator id {id_!r} is already used; allowed: a new id"
            )
        if principal_type not in ("Group", "ServicePrincipal", "User"):
            raise ValueError(
                f"PostgresServer.add_entra_administrator principal_type = {principal_type!r}; allowed: "
                "Group, ServicePrincipal, User"
            )
        self._entra_admins.add(id_)
        return PostgresqlFlexibleServerActiveDirectoryAdministrator(
            self,
            f"entra_admin_{id_}",
            server_name=self.server.name,
            resource_group_name=self.server.resource_group_name,
            tenant_id=self._tenant_id,
            object_id=object_id,
            principal_name=principal_name,
            principal_type=principal_type,
        )
