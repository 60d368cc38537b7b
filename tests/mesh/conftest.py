import pytest
from localmesh.certificate import self_signed
from localmesh.topology import TlsFiles


@pytest.fixture(scope="session")
def self_signed_certificate(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return self_signed(["web.example", "api.example", "*.localhost"], tmp_path_factory.mktemp("tls"))
