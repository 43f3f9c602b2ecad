"""The Kubernetes layer: providers, namespaces, Helm releases, config maps, secrets — on any conformant
cluster.

Nothing in this package imports or references azurerm (a test enforces it): the layer receives a
:class:`~building_blocks.kubernetes.connection.ClusterConnection` (API host + CA + exec credentials, or a
kubeconfig context) and the values it needs as plain Python data or Terraform references. See
docs/kubernetes-layer.md.

This ``__init__`` imports nothing, so :mod:`building_blocks.kubernetes.connection` and
:mod:`building_blocks.kubernetes.integration_specs` stay cheap for settings and the CLI.
"""
