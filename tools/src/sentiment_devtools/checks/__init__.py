"""Offline checks of the Kubernetes manifests in k8s/ (`python -m sentiment_devtools.checks k8s`, `make
k8s-check`): validate every rendered document against its schema (schemas, with fetch_schemas for a machine
without ../shared/schemas), check that the resources agree with each other and with the services' contract
(wiring, routing, pods, model_service, security, monitoring; pod_security for the restricted profile), and run
promtool and amtool on what they configure (tools). suite lists them all. No cluster needed."""
