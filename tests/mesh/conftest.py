import pytest
from sentiment_devtools.mesh.certificate import self_signed
from sentiment_devtools.mesh.topology import TlsFiles


@pytest.fixture(scope="session")
def self_signed_certificate(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return self_signed(["web.example", "api.example", "*.localhost"], tmp_path_factory.mktemp("tls"))
