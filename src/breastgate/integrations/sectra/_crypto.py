"""The two encryption schemes of Sectra URL launch, byte for byte as Sectra's public SDK.

Reference: ``sectra-medical/SectraUrlLaunchSdk`` (MIT). Files named below are in that repository.

Shared secret (``src/SharedSecret``; Java port ``src/Java``)
    * ``SectraSharedSecretEncryption.Secure``: result ``sharedSecretEncryptedUrlQuery=`` +
      ``WebUtility.UrlEncode(base64(token))``.
    * ``EncryptedOneTimeSignature``: token = ``nonce(12) || signed``; with the 32-byte secret K,
      ``cipher_key = HKDF-SHA256(K, salt=none, L=32,
      info="sectra/encryptedonetimesignature/cipherkey" || nonce)`` and ``signature_key`` likewise
      with ``.../signaturekey``; ``signed = OneTimeSignature.Sign(
      SymmetricEncryption.Encrypt(utf8(plaintext), cipher_key), signature_key)``.
    * ``OneTimeSignature``: ``signed = HMAC-SHA256(signature_key, packed) || packed`` with
      ``packed = timestamp(8) || random(32) || data``; the timestamp is .NET
      ``DateTime.UtcNow.ToBinary()`` little-endian (100-ns ticks since 0001-01-01 with bit 62 =
      ``DateTimeKind.Utc``). The receiver refuses a timestamp more than 30 s old
      (``MaxSignatureAgeSeconds``) and a reused 32-byte nonce.
    * ``SymmetricEncryption`` version 2 (.NET 8 and Java): ``0x02 || nonce(12) || tag(16) ||
      AES-256-GCM(cipher_key, nonce, data)`` (no associated data). Version 1 (.NET Framework 4.8),
      read only: ``0x01 || HMAC-SHA256(mac_key, ct) || nonce(16) || ct`` with ``ct`` =
      AES-256-CBC/PKCS7 and key, IV (16) and MAC key from HKDF of cipher_key with infos
      ``sectra/symmetricencryption/{cipherkey,cipheriv,mackey}`` || nonce.
    * ``Hkdf.cs``: RFC 5869 with HMAC-SHA256 and, without salt, 32 zero bytes as salt.

PKI (``src/Pki``)
    * ``UrlStringSigner``: RSA PKCS#1 v1.5 signature with SHA-256 over ``utf8(plaintext)``.
    * ``UrlStringEncryptor``: ``payload = int32_le(len(sig)) || sig || utf8(plaintext)``
      (signature at most 1024 bytes); ``SymmetricalEncryptor``: ``Aes.Create()`` defaults, i.e.
      random 32-byte key and 16-byte IV, AES-256-CBC with PKCS7; the AES key is encrypted for the
      URL launch system with RSA-OAEP (SHA-1, MGF1-SHA-1).
    * ``EncryptedUrlString.Serialize``: ``SEUS=..&ESP=..&IV=..&V=1`` (``UrlLaunchSecurity.ProtocolVersion``),
      each value ``WebUtility.UrlEncode(base64(bytes))``. PKI carries no timestamp of its own; the
      access string's ``time`` parameter is what dates it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote_plus

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from breastgate.integrations.sectra._query import dotnet_url_encode
from breastgate.integrations.sectra.errors import (
    LaunchAuthenticationError,
    LaunchConfigurationError,
    LaunchTokenError,
)

Random = Callable[[int], bytes]

SHARED_SECRET_PARAMETER = "sharedSecretEncryptedUrlQuery"
PKI_PARAMETERS = ("SEUS", "ESP", "IV", "V")
PKI_PROTOCOL_VERSION = 1
SECRET_BYTES = 32
MAX_SIGNATURE_AGE_SECONDS = 30.0  # OneTimeSignature.MaxSignatureAgeSeconds

_OTS_CIPHER_INFO = b"sectra/encryptedonetimesignature/cipherkey"
_OTS_SIGNATURE_INFO = b"sectra/encryptedonetimesignature/signaturekey"
_SYM_CIPHER_INFO = b"sectra/symmetricencryption/cipherkey"
_SYM_IV_INFO = b"sectra/symmetricencryption/cipheriv"
_SYM_MAC_INFO = b"sectra/symmetricencryption/mackey"
_NONCE = 12  # EncryptedOneTimeSignature and AES-GCM nonce
_SIGNATURE_NONCE = 32  # OneTimeSignature.NonceByteCount
_TAG = 16
_MAC = 32
_CBC_NONCE = 16
_TICKS_MASK = (1 << 62) - 1
_KIND_UTC = 1 << 62
_DOTNET_EPOCH = datetime(1, 1, 1, tzinfo=UTC)
_MAX_PKI_SIGNATURE = 1024  # UrlStringEncryptor.MaxSignatureLength


def hkdf_sha256(key: bytes, length: int, info: bytes, salt: bytes | None = None) -> bytes:
    """RFC 5869 HKDF with HMAC-SHA256; no salt means HashLen zero bytes (``Hkdf.cs``)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(key)


# --- .NET DateTime.ToBinary ---------------------------------------------------------------------


def to_dotnet_binary(moment: datetime) -> bytes:
    """``DateTime.ToBinary()`` of a UTC instant, little-endian (as ``BitConverter`` on x86)."""
    delta = moment.astimezone(UTC) - _DOTNET_EPOCH
    ticks = (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10
    return struct.pack("<q", ticks | _KIND_UTC)


def from_dotnet_binary(raw: bytes) -> datetime:
    """Inverse of :func:`to_dotnet_binary`; the kind bits are dropped and the ticks read as UTC."""
    (value,) = struct.unpack("<q", raw)
    return _DOTNET_EPOCH + timedelta(microseconds=(value & _TICKS_MASK) // 10)


# --- shared secret ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenedSharedSecret:
    """A shared-secret token whose signature verified: plaintext, signing time, one-time nonce."""

    plaintext: str
    signed_at: datetime
    nonce: bytes


def _gcm_encrypt(data: bytes, key: bytes, random: Random) -> bytes:
    nonce = random(_NONCE)
    sealed = AESGCM(key).encrypt(nonce, data, None)  # ciphertext || tag
    return b"\x02" + nonce + sealed[-_TAG:] + sealed[:-_TAG]


def _symmetric_decrypt(blob: bytes, key: bytes) -> bytes:
    """``SymmetricEncryption.Decrypt``: version 2 (AES-GCM) or version 1 (AES-CBC + HMAC)."""
    if blob[:1] == b"\x02" and len(blob) >= 1 + _NONCE + _TAG:
        nonce, tag, body = (
            blob[1 : 1 + _NONCE],
            blob[1 + _NONCE : 1 + _NONCE + _TAG],
            blob[1 + _NONCE + _TAG :],
        )
        try:
            return AESGCM(key).decrypt(nonce, body + tag, None)
        except InvalidTag as exc:
            raise LaunchAuthenticationError("AES-GCM authentication failed") from exc
    if blob[:1] == b"\x01" and len(blob) >= 1 + _MAC + _CBC_NONCE + 16:
        mac, nonce, body = (
            blob[1 : 1 + _MAC],
            blob[1 + _MAC : 1 + _MAC + _CBC_NONCE],
            blob[1 + _MAC + _CBC_NONCE :],
        )
        cipher_key = hkdf_sha256(key, 32, _SYM_CIPHER_INFO + nonce)
        iv = hkdf_sha256(key, 16, _SYM_IV_INFO + nonce)
        mac_key = hkdf_sha256(key, 32, _SYM_MAC_INFO + nonce)
        if not hmac.compare_digest(hmac.new(mac_key, body, hashlib.sha256).digest(), mac):
            raise LaunchAuthenticationError("failed to authenticate message (version 1 MAC)")
        return _cbc_decrypt(body, cipher_key, iv)
    raise LaunchTokenError(f"unsupported symmetric format (version byte {blob[:1].hex() or 'missing'})")


def _cbc_encrypt(data: bytes, key: bytes, iv: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padder.update(data) + padder.finalize()) + encryptor.finalize()


def _cbc_decrypt(body: bytes, key: bytes, iv: bytes) -> bytes:
    if not body or len(body) % 16:
        raise LaunchAuthenticationError("AES-CBC ciphertext is not a whole number of blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(decryptor.update(body) + decryptor.finalize()) + unpadder.finalize()
    except ValueError as exc:
        raise LaunchAuthenticationError("AES-CBC padding is invalid") from exc


def shared_secret_secure(plaintext: str, secret: bytes, *, now: datetime, random: Random = os.urandom) -> str:
    """``SectraSharedSecretEncryption.Secure``: ``sharedSecretEncryptedUrlQuery=<token>``."""
    nonce = random(_NONCE)
    cipher_key = hkdf_sha256(secret, 32, _OTS_CIPHER_INFO + nonce)
    signature_key = hkdf_sha256(secret, 32, _OTS_SIGNATURE_INFO + nonce)
    packed = (
        to_dotnet_binary(now)
        + random(_SIGNATURE_NONCE)
        + _gcm_encrypt(plaintext.encode(), cipher_key, random)
    )
    token = nonce + hmac.new(signature_key, packed, hashlib.sha256).digest() + packed
    return f"{SHARED_SECRET_PARAMETER}={dotnet_url_encode(base64.b64encode(token).decode(), upper=True)}"


def shared_secret_open(token_b64: str, secret: bytes) -> OpenedSharedSecret:
    """Verify and decrypt the (URL-decoded) base64 token; the caller judges ``signed_at``.

    Unlike the SDK, which checks the timestamp first, the HMAC is verified before anything in the
    token is trusted.
    """
    try:
        token = base64.b64decode(token_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise LaunchTokenError("shared-secret token is not base64") from exc
    if len(token) < _NONCE + _MAC + 8 + _SIGNATURE_NONCE + 1:
        raise LaunchTokenError("shared-secret token is too short")
    nonce, mac, packed = token[:_NONCE], token[_NONCE : _NONCE + _MAC], token[_NONCE + _MAC :]
    signature_key = hkdf_sha256(secret, 32, _OTS_SIGNATURE_INFO + nonce)
    if not hmac.compare_digest(hmac.new(signature_key, packed, hashlib.sha256).digest(), mac):
        raise LaunchAuthenticationError("signature verification failed (tampered, or another secret)")
    cipher_key = hkdf_sha256(secret, 32, _OTS_CIPHER_INFO + nonce)
    data = _symmetric_decrypt(packed[8 + _SIGNATURE_NONCE :], cipher_key)
    try:
        plaintext = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LaunchTokenError("decrypted launch string is not UTF-8") from exc
    return OpenedSharedSecret(plaintext, from_dotnet_binary(packed[:8]), packed[8 : 8 + _SIGNATURE_NONCE])


# --- PKI ----------------------------------------------------------------------------------------


def pki_secure(
    plaintext: str, signing_key: RSAPrivateKey, system_key: RSAPublicKey, *, random: Random = os.urandom
) -> str:
    """``SectraPkiEncryption.Secure``: ``SEUS=..&ESP=..&IV=..&V=1``."""
    data = plaintext.encode("utf-8")
    signature = signing_key.sign(data, rsa_padding.PKCS1v15(), hashes.SHA256())
    if len(signature) > _MAX_PKI_SIGNATURE:
        raise LaunchConfigurationError("signing key too large: signature exceeds 1024 bytes")
    aes_key, iv = random(32), random(16)
    body = _cbc_encrypt(struct.pack("<i", len(signature)) + signature + data, aes_key, iv)
    wrapped = system_key.encrypt(aes_key, _oaep_sha1())
    values = (body, wrapped, iv)
    parts = [
        f"{k}={dotnet_url_encode(base64.b64encode(v).decode(), upper=True)}"
        for k, v in zip(PKI_PARAMETERS[:3], values, strict=True)
    ]
    return "&".join([*parts, f"V={PKI_PROTOCOL_VERSION}"])


def pki_open(fields: dict[str, str], system_key: RSAPrivateKey, signer_key: RSAPublicKey) -> str:
    """``SectraPkiEncryption.View`` on the raw (still URL-encoded) ``SEUS``, ``ESP`` and ``IV`` values."""
    try:
        body, wrapped, iv = (
            base64.b64decode(unquote_plus(fields.get(k, "")), validate=True) for k in PKI_PARAMETERS[:3]
        )
    except (binascii.Error, ValueError) as exc:
        raise LaunchTokenError("SEUS, ESP or IV is not base64") from exc
    if not (body and wrapped and iv):
        raise LaunchTokenError("SEUS, ESP and IV must all be present")
    try:
        aes_key = system_key.decrypt(wrapped, _oaep_sha1())
    except ValueError as exc:
        raise LaunchAuthenticationError("could not decrypt the symmetric key (another system key?)") from exc
    if len(aes_key) not in (16, 24, 32) or len(iv) != 16:
        raise LaunchTokenError("symmetric key or IV has the wrong length")
    payload = _cbc_decrypt(body, aes_key, iv)
    if len(payload) < 4:
        raise LaunchTokenError("decrypted data has no signature length")
    (size,) = struct.unpack("<i", payload[:4])
    if not 0 <= size <= min(_MAX_PKI_SIGNATURE, len(payload) - 4):
        raise LaunchTokenError(f"signature length {size} is out of range")
    signature, data = payload[4 : 4 + size], payload[4 + size :]
    try:
        signer_key.verify(signature, data, rsa_padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise LaunchAuthenticationError("could not verify the URL string signature") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LaunchTokenError("decrypted launch string is not UTF-8") from exc


def _oaep_sha1() -> rsa_padding.OAEP:
    # RSAEncryptionPadding.OaepSHA1: SHA-1 is what the receiving Sectra system expects.
    return rsa_padding.OAEP(
        mgf=rsa_padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None
    )
