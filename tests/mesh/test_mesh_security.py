"""The mesh's security, run: STRICT mutual TLS and the model-service's AuthorizationPolicy, compiled from k8s/.

The model-service's inbound listener (its sidecar) takes only mTLS from a
certificate of the stack's own CA, and lets through only the principal the
AuthorizationPolicy names, the app-service's. Whether a call reached the
model-service is counted at the process itself: its own `http_requests_total`
for `/v1/predict`, read before and after.
"""

import asyncio
import ssl
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sentiment_devtools.mesh.mesh_ca import CertificateAuthority, spiffe_id
from sentiment_devtools.mesh.topology import TlsFiles
from sentiment_devtools.stack.envoy import mesh_ca_dir
from sentiment_devtools.system import ARMS, SERVICES
from support.mesh import Mesh, gather_limited
from support.waiting import DEADLINE_SECONDS

pytestmark = pytest.mark.slow

REVIEW = {"review": "The soup was lovely."}


def predictions_reaching(stack, arm: str) -> int:
    """How many calls to /v1/predict the model-service process of `arm` has answered, by its own count."""
    text = httpx.get(f"{stack.instance('model-service', arm).url}/metrics", timeout=DEADLINE_SECONDS).text
    return sum(
        int(sample.value)
        for family in text_string_to_metric_families(text)
        if family.name == "http_requests"
        for sample in family.samples
        if sample.name == "http_requests_total" and sample.labels["route"] == "/v1/predict"
    )


def inbound_url(stack, arm: str) -> str:
    return f"https://127.0.0.1:{stack.ports.inbound_of('model-service', arm)}/v1/predict"


def mesh_ca_certificate(stack) -> Path:
    return mesh_ca_dir(stack.state_dir) / "ca.crt"


def identity(stack, account: str) -> TlsFiles:
    """The certificate the stack's CA made for a service account of k8s/."""
    directory = mesh_ca_dir(stack.state_dir)
    return TlsFiles(directory / f"{account}.crt", directory / f"{account}.key")


def client_context(trusted_ca: Path, certificate: TlsFiles | None) -> ssl.SSLContext:
    """A client that trusts the mesh's CA for the server and presents `certificate` (none: no client certificate).

    The sidecar's certificate names a SPIFFE URI, not a DNS name, so the host name is not checked."""
    context = ssl.create_default_context(cafile=trusted_ca)
    context.check_hostname = False
    if certificate is not None:
        context.load_cert_chain(certificate.certificate, certificate.private_key)
    return context


def call_inbound(stack, arm: str, context: ssl.SSLContext | None) -> httpx.Response | Exception:
    """POST a review straight to the model-service's inbound listener; a TLS or connection failure is returned."""
    url = inbound_url(stack, arm) if context is not None else inbound_url(stack, arm).replace("https:", "http:")
    try:
        return httpx.post(url, json=REVIEW, verify=context or False, timeout=DEADLINE_SECONDS)
    except (httpx.TransportError, ssl.SSLError) as error:
        return error


@pytest.mark.parametrize("arm", ARMS)
def test_the_app_services_calls_reach_their_model_service_through_its_mutual_tls_inbound_listener(stack, arm):
    # Given the model-service's own count of predictions
    before = predictions_reaching(stack, arm)

    # When the page sends 10 reviews through the gateway: app-service, its sidecar, the model-service's sidecar
    async def reviews(mesh):
        calls = [mesh.api("POST", "/api/v1/sentiment", version=arm, json=REVIEW) for _ in range(10)]
        return await gather_limited(calls)

    async def with_mesh():
        mesh = Mesh(stack)
        try:
            return await reviews(mesh)
        finally:
            await mesh.close()

    answers = asyncio.run(with_mesh())

    # Then every one was answered by the model-service of that arm, and it counted each
    assert [a.status for a in answers] == [200] * 10, [a.body[:200] for a in answers]
    assert {httpx.Response(200, content=a.body).json()["versions"]["model_service"] for a in answers} == {arm}
    assert predictions_reaching(stack, arm) - before == 10
    # And they came through the model-service's inbound listener, allowed by its RBAC filter on the peer's identity
    stats = httpx.get(f"{stack.admin_url}/stats?filter=rbac", timeout=DEADLINE_SECONDS).text
    prefix = f"http.inbound_127.0.0.1_{stack.instance('model-service', arm).port}.rbac."
    allowed = {line.split(": ")[0]: int(line.split(": ")[1]) for line in stats.splitlines() if line.startswith(prefix)}
    assert allowed[prefix + "allowed"] >= 10, allowed


def test_a_call_with_the_app_services_certificate_is_allowed_straight_at_the_inbound_listener(stack):
    # Given the app-service's certificate from the mesh's CA (what its sidecar presents)
    before = predictions_reaching(stack, "stable")

    # When a client presents it to the model-service's inbound listener
    answer = call_inbound(stack, "stable", client_context(mesh_ca_certificate(stack), identity(stack, "app-service")))

    # Then the model-service answers, and counted the call
    assert isinstance(answer, httpx.Response), answer
    assert answer.status_code == 200, answer.text
    assert answer.json()["app_version"] == "stable"
    assert predictions_reaching(stack, "stable") - before == 1


@pytest.mark.parametrize("account", ["app-frontend", "sentiment-ingressgateway"])
def test_a_certificate_of_the_mesh_for_another_service_account_gets_403_and_never_reaches_the_model_service(
    stack, account
):
    # Given the certificate the mesh's CA made for another workload of k8s/
    before = predictions_reaching(stack, "stable")

    # When a client presents it to the model-service's inbound listener
    answer = call_inbound(stack, "stable", client_context(mesh_ca_certificate(stack), identity(stack, account)))

    # Then the sidecar refuses it, as the AuthorizationPolicy says, and the model-service never saw the call
    assert isinstance(answer, httpx.Response), answer
    assert (answer.status_code, answer.text) == (403, "RBAC: access denied")
    assert answer.headers.get("x-served-by") is None
    assert predictions_reaching(stack, "stable") == before


def test_a_call_without_mutual_tls_is_refused_and_never_reaches_the_model_service(stack):
    before = predictions_reaching(stack, "stable")

    # When a client calls the inbound listener in plain HTTP, then over TLS without a client certificate
    plain = call_inbound(stack, "stable", None)
    anonymous = call_inbound(stack, "stable", client_context(mesh_ca_certificate(stack), None))

    # Then neither gets an answer: the connection fails (TLS 1.3 reports the missing certificate on the first read)
    assert isinstance(plain, Exception), plain
    assert isinstance(anonymous, Exception), anonymous
    assert predictions_reaching(stack, "stable") == before


def test_a_certificate_of_another_ca_is_refused_even_with_the_app_services_identity(stack, tmp_path):
    # Given a certificate that names the app-service's identity, signed by a CA the mesh does not trust
    impostor = CertificateAuthority.create(tmp_path / "other-ca", name="not the mesh")
    forged = impostor.issue(
        spiffe_id("cluster.local", "sentiment", "app-service"), tmp_path / "other-ca", "app-service"
    )
    before = predictions_reaching(stack, "stable")

    # When a client presents it to the model-service's inbound listener
    answer = call_inbound(stack, "stable", client_context(mesh_ca_certificate(stack), forged))

    # Then the TLS handshake fails, and the model-service never saw the call
    assert isinstance(answer, Exception), answer
    assert predictions_reaching(stack, "stable") == before


def healthz(stack, service: str, context: ssl.SSLContext | None) -> httpx.Response | Exception:
    port = stack.ports.inbound_of(service, "stable")
    url = f"https://127.0.0.1:{port}/healthz" if context is not None else f"http://127.0.0.1:{port}/healthz"
    try:
        return httpx.get(url, verify=context or False, timeout=DEADLINE_SECONDS)
    except (httpx.TransportError, ssl.SSLError) as error:
        return error


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_is_reached_through_a_sidecar_that_takes_only_the_meshs_mutual_tls(stack, service, tmp_path):
    ca = mesh_ca_certificate(stack)
    impostor = CertificateAuthority.create(tmp_path / "other-ca", name="not the mesh")
    forged = impostor.issue(spiffe_id("cluster.local", "sentiment", "app-service"), tmp_path, "forged")

    # When its caller in the mesh (the gateway; the model-service's, the app-service), then no TLS, no client
    # certificate, another CA's certificate, call its sidecar
    caller = "app-service" if service == "model-service" else "sentiment-ingressgateway"
    allowed = healthz(stack, service, client_context(ca, identity(stack, caller)))
    refused = [healthz(stack, service, None), healthz(stack, service, client_context(ca, None))]
    refused.append(healthz(stack, service, client_context(ca, forged)))

    # Then only the mesh's certificate gets through to the service, which answers for itself
    assert isinstance(allowed, httpx.Response), allowed
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["x-served-by"] == f"{service}/stable"
    assert all(isinstance(answer, Exception) for answer in refused), refused
