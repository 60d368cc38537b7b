"""The local mesh's certificate authority: what istiod's CA does for every sidecar.

In a cluster istiod signs each proxy's certificate, whose URI SAN is the SPIFFE
identity of the pod's ServiceAccount. Locally the stack makes a CA of its own
at every start and signs one such certificate per service account; tests sign
more (another account, or with another CA) to prove who is refused. Keys are
written 0600, under var/ or a test's temporary folder, never in git.
"""

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sentiment_devtools.mesh.topology import MeshTls, TlsFiles

VALIDITY = datetime.timedelta(days=2)


@dataclass(frozen=True)
class CertificateAuthority:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    certificate_file: Path

    @classmethod
    def create(cls, directory: Path, name: str = "sentiment local mesh CA") -> "CertificateAuthority":
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, name)])
        certificate = (
            _builder(subject, subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(ca=True), critical=True)
            .sign(key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        authority = cls(certificate, key, directory / "ca.crt")
        authority.certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        return authority

    def issue(self, spiffe_id: str, directory: Path, name: str) -> TlsFiles:
        """A workload certificate for `spiffe_id` (client and server, as Istio's), as <name>.crt and <name>.key."""
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = (
            _builder(x509.Name([]), self.certificate.subject, key.public_key())
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(spiffe_id)]), critical=True)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(ca=False), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        files = TlsFiles(certificate=directory / f"{name}.crt", private_key=directory / f"{name}.key")
        files.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        files.private_key.touch(mode=0o600)
        files.private_key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return files


def spiffe_id(trust_domain: str, namespace: str, service_account: str) -> str:
    return f"spiffe://{trust_domain}/ns/{namespace}/sa/{service_account}"


def mesh_certificates(
    directory: Path, accounts: list[tuple[str, str]], trust_domain: str = "cluster.local"
) -> tuple[CertificateAuthority, MeshTls]:
    """A new CA in `directory`, and a certificate for each (namespace, service account)."""
    authority = CertificateAuthority.create(directory)
    identities = {
        account: authority.issue(spiffe_id(trust_domain, namespace, account), directory, account)
        for namespace, account in accounts
    }
    return authority, MeshTls(authority.certificate_file, identities, trust_domain)


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
    )


def _usage(ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )
