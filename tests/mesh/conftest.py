"""The mesh tests share one running system, stopped once the last of them has run (a package, hence `__init__.py`)."""

import pytest
from sentiment_devtools.mesh.certificate import self_signed
from sentiment_devtools.mesh.topology import TlsFiles
from support.mesh import running_stack


@pytest.fixture(scope="session")
def self_signed_certificate(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return self_signed(["web.example", "api.example", "*.localhost"], tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="package")
def stack(release, tmp_path_factory):
    """One running system for the routing and the rate-limit tests; each test that rebuilds Envoy puts it back."""
    with running_stack(release, tmp_path_factory.mktemp("mesh")) as stack:
        yield stack
