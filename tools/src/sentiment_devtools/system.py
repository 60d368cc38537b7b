"""The system's shape, defined once: its services, its arms, its public hosts and the ports it runs on here.

Every layer of sentiment_devtools reads these, and so do tests/ and bench/;
nothing else spells them (tests/test_tools_layers.py). The services' own code
and k8s/ say the same in their own terms, and the tests hold them to it
(tests/k8s/test_contract.py, docs/architecture.md's port table).
"""

from pathlib import Path

# In the order a request reaches them from the model up: each calls the one before it.
SERVICES = ("model-service", "app-service", "app-frontend")
# The plumbing every service installs beside its own code, relative to the repository (libs/service-kit/README.md).
SERVICE_KIT = Path("libs/service-kit")
# Every service runs in both; a visitor stays on one, end to end.
ARMS = ("stable", "canary")
STABLE, CANARY = ARMS

# The port every service listens on in its container (and behind its Kubernetes Service's port 80).
CONTAINER_PORT = 8000

# The services the browser reaches, and the hosts the gateway serves them on in the cluster.
PUBLIC_HOSTS = {"app-frontend": "app-frontend.k8s.local", "app-service": "app-service.k8s.local"}
# Locally the same virtual hosts also answer as <first label>.localhost, which browsers resolve to 127.0.0.1.
LOCAL_DOMAIN = "localhost"


def local_twin(host: str) -> str:
    """`app-frontend.k8s.local` -> `app-frontend.localhost`."""
    return f"{host.split('.')[0]}.{LOCAL_DOMAIN}"


FRONTEND_HOST = local_twin(PUBLIC_HOSTS["app-frontend"])
API_HOST = local_twin(PUBLIC_HOSTS["app-service"])

# `make run`'s ports on 127.0.0.1 (docs/architecture.md, "Local ports"); tests pick free ones instead.
# Each service's stable listens on its base port, its canary on the next.
LOCAL_SERVICE_PORTS = {"model-service": 8101, "app-service": 8201, "app-frontend": 8301}
LOCAL_INGRESS_PORT = 8080
LOCAL_INGRESS_TLS_PORT = 8443
LOCAL_ENVOY_ADMIN_PORT = 9901
# Each app-service arm's outbound listener on Envoy (its "sidecar") towards the model-service.
LOCAL_SIDECAR_PORTS = {STABLE: 8211, CANARY: 8212}
# `make run DB=postgres`: each arm's second app-service replica, and the PostgreSQL server both arms share.
LOCAL_SECOND_APP_SERVICE_PORTS = {STABLE: 8203, CANARY: 8204}
LOCAL_POSTGRES_PORT = 8432
# Each service process's inbound listener on Envoy (its sidecar: mutual TLS, its AuthorizationPolicy), 20 above
# the process's own port: 8121 in front of 8101, 8223 in front of the second replica 8203.
LOCAL_INBOUND_PORT_OFFSET = 20
LOCAL_PROMETHEUS_PORT = 9090
LOCAL_ALERTMANAGER_PORT = 9093
LOCAL_SMTP_PORT = 8025

# docker-compose.mesh.yml: the app-services' listeners on the Envoy container.
COMPOSE_SIDECAR_PORTS = {STABLE: 15001, CANARY: 15002}
