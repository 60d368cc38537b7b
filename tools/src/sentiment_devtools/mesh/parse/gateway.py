"""A Gateway: its workload selector and its servers (port, protocol, hosts, TLS)."""

from sentiment_devtools.mesh.model import Gateway, Server
from sentiment_devtools.mesh.strict import Fields, spec_of


def gateway(document: dict, resource: str) -> Gateway:
    spec = spec_of(document, resource)
    selector = spec.string_map("selector")
    servers = [_server(server) for server in spec.items("servers", required=True)]
    spec.done()
    return Gateway(name=document["metadata"]["name"], selector=selector, servers=servers)


def _server(server: Fields) -> Server:
    port = server.nested("port", required=True)
    number = port.take_int("number")
    port.take_str("name")
    protocol = port.take_str("protocol", required=True)
    port.done()
    if protocol not in ("HTTP", "HTTPS"):
        raise server.error("port.protocol", f"{protocol} is not supported (HTTP or HTTPS)")
    hosts = server.strings("hosts", required=True)
    https_redirect, mode = False, None
    tls = server.nested("tls")
    if tls is not None:
        https_redirect = bool(tls.take("httpsRedirect", False))
        mode = tls.take_str("mode")
        if mode not in (None, "SIMPLE"):
            raise tls.error("mode", f"{mode} is not supported (SIMPLE: the certificate is given to the compiler)")
        # Locally the certificate is a file given to the compiler (Topology.tls), not a Secret.
        tls.take_str("credentialName")
        tls.done()
    if (protocol == "HTTPS") != (mode == "SIMPLE"):
        raise server.error("tls.mode", "SIMPLE goes with an HTTPS server, and an HTTPS server needs it")
    server.done()
    return Server(port=number, protocol=protocol, hosts=hosts, https_redirect=https_redirect)
