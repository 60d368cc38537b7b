"""Compiles the Istio resources of `k8s/` into a static Envoy configuration.

Istio turns a Gateway, VirtualServices, DestinationRules, EnvoyFilters,
PeerAuthentications and AuthorizationPolicies into Envoy configuration for
the ingress gateway and for every sidecar. This package does the same for one
machine: the ingress listener the gateway would run, one outbound listener per
calling workload, carrying the mesh routes as that workload's sidecar would
see them (which is where `sourceLabels` are evaluated), and for the workloads
the topology secures an inbound listener that requires mutual TLS and runs
their AuthorizationPolicies. Every field it meets is either compiled or refused with the
resource and field named: nothing is silently dropped. See docs/local-mesh.md.
"""
