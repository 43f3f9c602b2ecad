"""An environment's virtual network: one address space carved into fixed subnets, each behind its own NSG.

Layout of an address space of prefix ``/p`` (``/16`` to ``/22``), computed, never typed by hand:

============================  =============  =====================================================
subnet                        size           holds
============================  =============  =====================================================
``nodes``                     ``/p+1``       AKS nodes (pods use the overlay range, not these IPs)
``postgres``                  ``/p+3``       PostgreSQL flexible server (delegated subnet)
``endpoints``                 ``/p+3``       private endpoints (container registry in production)
(free)                        ``2 x /p+3``   reserved for growth (e.g. API server VNet integration)
============================  =============  =====================================================

Every subnet has default outbound access disabled (AKS egresses through its load balancer) and an NSG that
denies traffic from the rest of the VNet unless a rule below lets it in. Each NSG first allows the
``AzureLoadBalancer`` service tag, because its own deny would otherwise shadow Azure's default rule for it (see
``_DENY_VNET_PRIORITY``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from cdktf_cdktf_provider_azurerm.network_security_group import (
    NetworkSecurityGroup,
    NetworkSecurityGroupSecurityRule,
)
from cdktf_cdktf_provider_azurerm.subnet import Subnet, SubnetDelegation, SubnetDelegationServiceDelegation
from cdktf_cdktf_provider_azurerm.subnet_network_security_group_association import (
    SubnetNetworkSecurityGroupAssociation,
)
from cdktf_cdktf_provider_azurerm.virtual_network import VirtualNetwork
from constructs import Construct

from building_blocks.naming import Namer

POSTGRES_PORT = 5432
HTTPS_PORT = 443
# The lowest-priority rule we write: denies everything from the VNet the rules above did not allow.
_DENY_VNET_PRIORITY = 4000
# Azure's default AllowAzureLoadBalancerInBound sits at 65001, *after* that deny, and the VirtualNetwork tag the
# deny matches includes the host address 168.63.129.16 that the load balancer's health probes come from
# (learn.microsoft.com/azure/virtual-network/network-security-groups-overview#default-security-rules and
# .../service-tags-overview: "AzureLoadBalancer ... translates to the virtual IP address of the host
# (168.63.129.16) where the Azure health probes originate"; VirtualNetwork includes "the virtual IP address of
# the host"). Without an explicit allow ahead of the deny, the probes to a LoadBalancer Service's health check
# node port (externalTrafficPolicy: Local) are dropped and the ingress controller gets no traffic at all.
# The tag carries probe traffic only, not client traffic, so allowing it opens nothing else.
_ALLOW_LOAD_BALANCER_PRIORITY = 3900


def subnet_layout(address_space: str) -> dict[str, str]:
    """The subnets of ``address_space`` (an IPv4 ``/16`` to ``/22``): ``{"nodes", "postgres", "endpoints"}`` →
    CIDR. Raises ValueError naming the value and what is allowed."""
    try:
        network = ipaddress.IPv4Network(address_space)
    except ValueError:
        raise ValueError(
            f"Network address_space = {address_space!r}; allowed: an IPv4 CIDR with no host bits "
            "set, such as '10.10.0.0/16'"
        ) from None
    if not 16 <= network.prefixlen <= 22:
        raise ValueError(f"Network address_space = {address_space!r}; allowed: a prefix from /16 to /22")
    nodes, rest = network.subnets(new_prefix=network.prefixlen + 1)
    postgres, endpoints, _reserved_1, _reserved_2 = rest.subnets(new_prefix=network.prefixlen + 3)
    return {"nodes": str(nodes), "postgres": str(postgres), "endpoints": str(endpoints)}


def _rule(
    name: str,
    priority: int,
    *,
    access: str = "Allow",
    protocol: str = "Tcp",
    source: str | list[str],
    destination: str | list[str],
    ports: Sequence[int] | None = None,
    description: str,
) -> NetworkSecurityGroupSecurityRule:
    addresses = {
        **(
            {"source_address_prefixes": source}
            if isinstance(source, list)
            else {"source_address_prefix": source}
        ),
        **(
            {"destination_address_prefixes": destination}
            if isinstance(destination, list)
            else {"destination_address_prefix": destination}
        ),
    }
    return NetworkSecurityGroupSecurityRule(
        name=name,
        priority=priority,
        direction="Inbound",
        access=access,
        protocol=protocol,
        source_port_range="*",
        **addresses,  # type: ignore[arg-type]
        **(
            {"destination_port_ranges": [str(p) for p in ports]} if ports else {"destination_port_range": "*"}
        ),
        description=description,
    )


class Network(Construct):
    """A virtual network with the subnets of :func:`subnet_layout` and one NSG per subnet.

    Inbound rules (everything else from the VNet is denied at priority 4000; on every NSG the
    ``AzureLoadBalancer`` tag, the health probes' source, is allowed at 3900, just ahead of that deny):

    - ``nodes``: anything between nodes and pods (the node subnet and ``pod_cidr``, as Azure CNI overlay
      needs), and ``ingress_ports`` from the Internet (the ingress controller's public load balancer; AKS does
      not edit a subnet NSG it does not own).
    - ``postgres``: 5432 from the node subnet, and anything within the subnet (HA replication).
    - ``endpoints``: 443 from the node subnet.

    Attributes: ``virtual_network`` (the ``Resource``), ``node_subnet``, ``postgres_subnet``,
    ``endpoint_subnet`` (azurerm subnets), ``security_groups`` (subnet key → NSG), ``layout`` (key → CIDR).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        namer: Namer,
        resource_group_name: str,
        location: str,
        address_space: str,
        pod_cidr: str | None = None,
        ingress_ports: Sequence[int] = (80, 443),
    ) -> None:
        """``address_space``: the environment's IPv4 range, ``/16`` to ``/22`` (required). ``pod_cidr``: the
        AKS overlay pod range, allowed to and from the nodes (default: none, for a VNet without an overlay
        cluster). ``ingress_ports``: TCP ports open from the Internet to the node subnet (default 80 and 443,
        for the ingress controller; empty: no inbound Internet traffic at all)."""
        super().__init__(scope, id_)
        self.layout = subnet_layout(address_space)
        ports = list(ingress_ports)
        if any(isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 65535 for p in ports) or len(
            set(ports)
        ) != len(ports):
            raise ValueError(
                f"Network ingress_ports = {ports!r}; allowed: distinct TCP ports from 1 to 65535"
            )
        if pod_cidr is not None:
            try:
                pods = ipaddress.IPv4Network(pod_cidr)
            except ValueError:
                raise ValueError(
                    f"Network pod_cidr = {pod_cidr!r}; allowed: an IPv4 CIDR with no host bits set"
                ) from None
            if pods.overlaps(ipaddress.IPv4Network(address_space)):
                raise ValueError(
                    f"Network pod_cidr = {pod_cidr!r} overlaps address_space {address_space!r}; "
                    "allowed: a range outside the VNet"
                )
        self.virtual_network = VirtualNetwork(
            self,
            "Resource",
            name=namer.name("virtual_network"),
            resource_group_name=resource_group_name,
            location=location,
            address_space=[address_space],
        )
        nodes, postgres, endpoints = self.layout["nodes"], self.layout["postgres"], self.layout["endpoints"]
        # No service endpoints: the nodes reach Key Vault (and a Premium registry) through private endpoints.
        self.node_subnet = self._subnet("nodes", namer, resource_group_name)
        self.postgres_subnet = self._subnet(
            "postgres",
            namer,
            resource_group_name,
            delegation=[
                SubnetDelegation(
                    name="postgresql-flexible-server",
                    service_delegation=SubnetDelegationServiceDelegation(
                        name="Microsoft.DBforPostgreSQL/flexibleServers",
                        actions=["Microsoft.Network/virtualNetworks/subnets/join/action"],
                    ),
                )
            ],
        )
        self.endpoint_subnet = self._subnet(
            "endpoints",
            namer,
            resource_group_name,
            # NSG rules apply to private endpoints only with network policies enabled.
            private_endpoint_network_policies="Enabled",
        )
        deny_vnet = _rule(
            "deny-vnet-inbound",
            _DENY_VNET_PRIORITY,
            access="Deny",
            protocol="*",
            source="VirtualNetwork",
            destination="*",
            description="Nothing else from the VNet",
        )
        allow_load_balancer = _rule(
            "allow-azure-load-balancer-inbound",
            _ALLOW_LOAD_BALANCER_PRIORITY,
            protocol="*",
            source="AzureLoadBalancer",
            destination="*",
            description="Azure load balancer health probes (168.63.129.16), ahead of the VNet deny",
        )
        cluster = [nodes, pod_cidr] if pod_cidr else [nodes]
        node_rules = [
            _rule(
                "allow-cluster-inbound",
                100,
                protocol="*",
                source=cluster,
                destination=cluster,
                description="Node to node, node to pod and pod to pod traffic",
            )
        ]
        if ports:
            # Destination "*": the AKS load balancer uses floating IP, so packets arrive addressed to the
            # service's public frontend IP, not a node address. Nodes have no public IPs of their own.
            node_rules.append(
                _rule(
                    "allow-ingress-inbound",
                    110,
                    source="Internet",
                    destination="*",
                    ports=ports,
                    description="Public traffic to the ingress controller",
                )
            )
        rules = {
            "nodes": [*node_rules, allow_load_balancer, deny_vnet],
            "postgres": [
                _rule(
                    "allow-postgres-from-nodes",
                    100,
                    source=nodes,
                    destination=postgres,
                    ports=[POSTGRES_PORT],
                    description="Workloads on AKS to PostgreSQL",
                ),
                _rule(
                    "allow-postgres-subnet",
                    110,
                    protocol="*",
                    source=postgres,
                    destination=postgres,
                    description="Replication between primary and standby",
                ),
                allow_load_balancer,
                deny_vnet,
            ],
            "endpoints": [
                _rule(
                    "allow-https-from-nodes",
                    100,
                    source=nodes,
                    destination=endpoints,
                    ports=[HTTPS_PORT],
                    description="Workloads and kubelet to private endpoints",
                ),
                allow_load_balancer,
                deny_vnet,
            ],
        }
        subnets = {
            "nodes": self.node_subnet,
            "postgres": self.postgres_subnet,
            "endpoints": self.endpoint_subnet,
        }
        self.security_groups: dict[str, NetworkSecurityGroup] = {}
        for key, subnet in subnets.items():
            group = NetworkSecurityGroup(
                self,
                f"nsg_{key}",
                name=namer.name("network_security_group", key),
                resource_group_name=resource_group_name,
                location=location,
                security_rule=rules[key],
            )
            SubnetNetworkSecurityGroupAssociation(
                self, f"nsg_{key}_association", subnet_id=subnet.id, network_security_group_id=group.id
            )
            self.security_groups[key] = group

    def _subnet(self, key: str, namer: Namer, resource_group_name: str, **options: object) -> Subnet:
        return Subnet(
            self,
            f"subnet_{key}",
            name=namer.name("subnet", key),
            resource_group_name=resource_group_name,
            virtual_network_name=self.virtual_network.name,
            address_prefixes=[self.layout[key]],
            default_outbound_access_enabled=False,
            **options,  # type: ignore[arg-type]
        )
