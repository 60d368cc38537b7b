"""Offline checks of the Kubernetes manifests in k8s/: render them with kustomize,
validate every document against its schema, and check that the resources agree
with each other and with the services' contract. No cluster needed."""
