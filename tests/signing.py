"""Keys and certificates the authentication tests make for themselves (no network)."""

from __future__ import annotations

import datetime
import functools

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@functools.cache
def private_key(name: str = "signer") -> rsa.RSAPrivateKey:
    """One RSA key per name for the whole session (2048 bits: what the providers use)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(name: str = "signer") -> bytes:
    return private_key(name).private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())


@functools.cache
def certificate_pem(name: str = "signer") -> bytes:
    """A self-signed certificate of ``private_key(name)``."""
    key = private_key(name)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)
