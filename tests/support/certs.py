"""Throw-away X.509 material for TLS registries and for signing registry tokens.

Everything is generated with ``cryptography`` on the fly (EC P-256 keys, so generation costs
milliseconds) and lives only in a test's work directory. The certificates carry the extensions
strict verifiers insist on (CA basic constraints and key usage, subject/authority key
identifiers, SANs), so a client that trusts the CA verifies the server exactly as it would a
real one, and a client that does not trust it fails the way it would in production.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# A little slack in the past keeps clock skew between processes from mattering.
_NOT_BEFORE_SLACK = dt.timedelta(hours=1)
_LIFETIME = dt.timedelta(days=7)


@dataclass(frozen=True)
class KeyPair:
    """A private key with the certificate for its public half."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def cert_der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for a TLS server: ``ca_cert`` is what clients pass as their CA bundle."""

    ca_cert: Path
    cert: Path
    key: Path


def _builder(
    subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _NOT_BEFORE_SLACK)
        .not_valid_after(now + _LIFETIME)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def generate_ca(common_name: str = "regrep test CA") -> KeyPair:
    """A self-signed certificate authority."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        _builder(common_name, name, key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(key, cert)


def issue_server_cert(ca: KeyPair, hosts: Sequence[str] = ("127.0.0.1", "localhost")) -> KeyPair:
    """A server certificate signed by ``ca``, valid for each of ``hosts`` (IPs or DNS names)."""
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    ca_ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        _builder(hosts[0], ca.cert.subject, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )
    return KeyPair(key, cert)


def generate_signing_cert(common_name: str = "regrep test token signer") -> KeyPair:
    """A self-signed certificate for a JWT signing key.

    It deliberately has no ExtendedKeyUsage: distribution verifies the token's ``x5c`` chain
    with Go's ``x509.Verify`` against ``rootcertbundle``, and a self-signed leaf that is itself
    in the bundle verifies as a chain of one.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        _builder(common_name, name, key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(key, cert)


def write_server_tls(
    directory: Path, hosts: Sequence[str] = ("127.0.0.1", "localhost")
) -> TlsFiles:
    """Generate a CA and a server certificate for ``hosts`` and write them as PEM files."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = generate_ca()
    server = issue_server_cert(ca, hosts)
    files = TlsFiles(
        ca_cert=directory / "ca.pem",
        cert=directory / "server.pem",
        key=directory / "server-key.pem",
    )
    files.ca_cert.write_bytes(ca.cert_pem())
    files.cert.write_bytes(server.cert_pem())
    files.key.write_bytes(server.key_pem())
    files.key.chmod(0o600)
    return files
