"""Sectra URL launch strings against the vectors of Sectra's public URL Launch SDK.

Vectors quoted from ``sectra-medical/SectraUrlLaunchSdk`` (MIT): access strings from
``test/UrlAccessString.UnitTests/UrlAccessStringTests.Data.cs``; shared-secret strings from
``test/UrlLaunchSdk.IntegrationTests/SectraSharedSecretEncryptionTests.cs`` (key
``D7qIalCnQ…``, clock fixed at 2025-05-04 12:00:00 UTC); legacy ciphertexts from
``test/SharedSecretUnitTests/SymmetricEncryptionTests.cs``; HKDF from RFC 5869 (the SDK tests
cases 2 and 3). One more string was made with the SDK's Java port (``src/Java``) and the key of
``scripts/IntegrationTestRunner.sh``. Keys and certificates for PKI are made here, at test time.
"""

from __future__ import annotations

import base64
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from urllib.parse import unquote_plus

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from breastgate.integrations.sectra import _crypto as crypto
from breastgate.integrations.sectra.launch import (
    IDS7_OPEN_IPV_WINDOW,
    Ids7WindowManagement,
    LaunchAuthenticationError,
    LaunchConfig,
    LaunchConfigurationError,
    LaunchDecoderConfig,
    LaunchError,
    LaunchExpiredError,
    LaunchParameterError,
    LaunchParameters,
    LaunchTarget,
    LaunchTokenError,
    LoginType,
    StartupPresentation,
    UniViewCommand,
    UniViewLayout,
    decode_launch,
    encode_launch,
    ids7_3pstart_url,
    ids7_launcher_url,
    launch_links,
    parse_query_string,
    parse_shared_secret,
    to_query_string,
    uniview_url,
    validate_example,
)

FOX = "The quick brown fox jumps over the lazy dog"
GUID_A = uuid.UUID("A2A6D41D-3AB3-47EC-802C-BF8AAB26C977")
GUID_B = uuid.UUID("5159555F-7982-4A95-A3A9-0C67B0E794B8")
SP = "a2a6d41d-3ab3-47ec-802c-bf8aab26c977^5159555f-7982-4a95-a3a9-0c67b0e794b8^AccGroup%2cReq1%2cEx1"
P = LaunchParameters

# --- access strings: UrlAccessStringTests.Data.cs ----------------------------------------------

COMMON = [
    ("user_id=username", P(user_id="username")),
    ("pat_id=patient", P(patient_id="patient")),
    ("mrn_integration_id=DefaultMrnIntId", P(mrn_integration_id="DefaultMrnIntId")),
    ("acc_no_integration_id=DefaultAccIntId", P(accession_number_group="DefaultAccIntId")),
    ("acc_no=req1^req2", P(accession_numbers=("req1", "req2"))),
    ("exam_id=ex1^ex2", P(examination_ids=("ex1", "ex2"))),
    ("sop_uid=1.2.3", P(sop_instance_uid="1.2.3")),
    ("frame_number=123", P(frame_number=123)),
    ("stop=1", P(stop=True)),
    ("allow_pat_change=0", P(allow_patient_change=False)),
    ("init=1", P(initialize=True)),
    ("login_type=url", P(login_type=LoginType.URL)),
    ("login_type=sso", P(login_type=LoginType.SSO)),
    ("sp=" + SP, P(startup_presentation=StartupPresentation(GUID_A, GUID_B, "AccGroup,Req1,Ex1"))),
    (
        "sp=null^null^AccGroup%2cReq1%2cEx1",
        P(startup_presentation=StartupPresentation(None, None, "AccGroup,Req1,Ex1")),
    ),
    ("pat_name=name", P(patient_name="name")),
    ("pat_birth=19600515", P(patient_birthdate=date(1960, 5, 15))),
    ("ref_unit=unit", P(referring_unit="unit")),
    ("his_id=hisid", P(his_id="hisid")),
    ("uniview_cmd=show_images", P(uniview_command=UniViewCommand.SHOW_IMAGES)),
    ("uv_layout=image_and_toolbar", P(uniview_layout=UniViewLayout.IMAGE_AND_TOOLBAR)),
    ("autoselect_last_assignment=1", P(autoselect_last_assignment=True)),
    ("ids7_workspace=reporting", P(ids7_workspace="reporting")),
    ("ids7_workspace=classic", P(ids7_workspace="classic")),
    ("ids7_workspace=touch", P(ids7_workspace="touch")),
    ("ids7_cmds=open_ipv_window", P(ids7_commands=(IDS7_OPEN_IPV_WINDOW,))),
    ("use_search_servers_from_worklist=WL_ID1", P(use_search_servers_from_worklist="WL_ID1")),
    ("promote_server_to_query=Server1", P(promote_server_to_query="Server1")),
    ("ids7_window_management=image_window", P(ids7_window_management=Ids7WindowManagement.IMAGE_WINDOW)),
    (
        "ids7_window_management=information_window",
        P(ids7_window_management=Ids7WindowManagement.INFORMATION_WINDOW),
    ),
    (
        "ids7_window_management=keep_in_background",
        P(ids7_window_management=Ids7WindowManagement.KEEP_IN_BACKGROUND),
    ),
]
LAUNCH_ONLY = [  # TestLaunchDictionary entries whose parse differs or is absent
    ("", P(allow_patient_change=True, limited_access=False, autoselect_last_assignment=False)),
    ("limited_access=1", P(limited_access=True)),
    ("close_popup=1", P(close_popup=True)),
    ("pat_sex=M", P(patient_sex="M")),
]
PARSE_ONLY = [  # TestParseDictionary entries not in COMMON
    ("limited_access=1", P(limited_access=True, allow_patient_change=False)),
    ("pat_sex=F", P(patient_sex="F")),
]


@pytest.mark.parametrize(("expected", "params"), COMMON + LAUNCH_ONLY)
def test_access_string_matches_sdk(expected: str, params: LaunchParameters) -> None:
    assert to_query_string(params) == expected


@pytest.mark.parametrize(("text", "expected"), COMMON + PARSE_ONLY)
def test_access_string_parses_as_sdk(text: str, expected: LaunchParameters) -> None:
    assert parse_query_string(text) == expected


def test_time_is_whole_seconds_since_1970() -> None:
    moment = datetime(2025, 3, 25, 9, 55, 26, 900_000, tzinfo=UTC)
    assert to_query_string(P(user_id="MyUserId", time=moment)) == "user_id=MyUserId&time=1742896526"
    assert parse_query_string("time=1742896526").time == moment.replace(microsecond=0)


def test_parameter_order_and_escaping_follow_query_string_cs() -> None:
    params = P(
        patient_id="19121212-1212",
        accession_numbers=("A 1", "B/2"),
        mrn_integration_id="SE&PNR",
        sop_instance_uid="1.2.3",
        frame_number=4,
        uniview_command=UniViewCommand.SHOW_IMAGES,
        time=datetime(2026, 1, 1, tzinfo=UTC),
        close_popup=True,
    )
    text = to_query_string(params)
    assert text == (
        "pat_id=19121212-1212&acc_no=A+1^B%2f2&mrn_integration_id=SE%26PNR&sop_uid=1.2.3"
        "&frame_number=4&uniview_cmd=show_images&time=1767225600&close_popup=1"
    )
    assert parse_query_string(text) == params.__class__(**{**params.__dict__, "close_popup": None})


def test_parse_retries_once_url_decoded_like_sdk() -> None:
    assert parse_query_string("pat_id%3dP1%26acc_no%3dA1") == P(patient_id="P1", accession_numbers=("A1",))


@pytest.mark.parametrize(
    "text",
    ["sop_uid=1.2.3", "acc_no=req1", "pat_id=patient&acc_no=req1&exam_id=ex1^ex2", "uniview_cmd=show_images"],
)
def test_sdk_example_validation_rejects(text: str) -> None:
    with pytest.raises(LaunchParameterError):
        validate_example(parse_query_string(text))


@pytest.mark.parametrize("text", ["frame_number=0", "frame_number=-1", "frame_number=x", "bogus=1", "pat_id"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(LaunchParameterError):
        parse_query_string(text)


# --- HKDF: RFC 5869 (cases 2 and 3 are also the SDK's HkdfTests) ---------------------------------


@pytest.mark.parametrize(
    ("ikm", "salt", "info", "length", "okm"),
    [
        (
            bytes([0x0B] * 22),
            bytes(range(13)),
            bytes(range(0xF0, 0xFA)),
            42,
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        ),
        (
            bytes(range(0x50)),
            bytes(range(0x60, 0xB0)),
            bytes(range(0xB0, 0x100)),
            82,
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09"
            "da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87",
        ),
        (
            bytes([0x0B] * 22),
            None,
            b"",
            42,
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
        ),
    ],
)
def test_hkdf_rfc5869(ikm: bytes, salt: bytes | None, info: bytes, length: int, okm: str) -> None:
    assert crypto.hkdf_sha256(ikm, length, info, salt=salt).hex() == okm


# --- shared secret: SDK known-answer vectors ------------------------------------------------------

SDK_KEY = "D7qIalCnQzyGrU5sCVZ+HWYcGTihtO32bAuzSiPkTug="
SDK_NOW = datetime(2025, 5, 4, 12, 0, 0, tzinfo=UTC)  # TestDateTimeProvider: "May the fourth"
SDK_2025 = {
    "net8 (AES-GCM, version 2)": (
        "sharedSecretEncryptedUrlQuery=DGSc2jqpHoY4a0XSmW5R5yjPRODSOFRrQI7Pstpn4c54GuPLy06Y2GTmih8A"
        "YDUyA4vdSPhX85ZIYQ%2FhA2U0VLja1bH2hDuJyDpRNraoXtRrQYn5AkvA%2FPxWwKpQZri648w2U5uwcmTcw%2BsX"
        "d3sNjO9KqxUo%2BKm7%2F0%2BKLIrWArcRxXpNnonoF%2FyIQ99jxx%2F%2BkfQXELg8sL8kksJg"
    ),
    "net framework (AES-CBC, version 1)": (
        "sharedSecretEncryptedUrlQuery=QBNN5LJLUKuDCsCPlCuc2D6gbEmam1u6kc%2BzmzcVzbznn1ia17ZOMcTpqW"
        "8AYDUyA4vdSADhx98k%2BlhAPi7zgdUNpW5qE1CrxaSzKqImMthLm4f9AUDqqmpgb%2BRT6pP6STuui%2Bsn1o%2Bu"
        "xgYJ4v6f9lfHtjkabSm3td62%2FhP8N2rc9JJlq5t8uSdVBjLwtHNYL2Yr%2F7pSink863QszzWgx3vzZ7j5rGnLAI"
        "NycFVdiJQT0H1RNw%3D%3D"
    ),
}
SDK_2023 = {
    "net8": (
        "sharedSecretEncryptedUrlQuery=JvI34KTS0p5SvdZNjhswyOax8UHf9sRKfO4Wth%2Fj7KsR1Vy95KTKVzzFoc"
        "0AID4Wl0zbSHUZ%2BrSingAmaomF9CwEpE8562DtR%2FOHBXMkx4mWK%2FzJAj7JTOl2uAIsRqlX3PNTuidufcBMSa"
        "ifhOYqBYt3dSDXBCt8p8lJobV2HyAM2CMM3J4432gEjnS9m7NS9aVUKrChw4BVM4Px"
    ),
    "net framework": (
        "sharedSecretEncryptedUrlQuery=Lq2HPvFjISLXCJC6hMp5JQb0EFvlyEHIWIH3FV7JQQie6T6eIngxibJhj6AA"
        "ID4Wl0zbSJdwyQ5NGgeYg7G7sAPECzBtjuEyREKan0O%2BEFKqmM8GAcYn1hifJMu9U3lfYo1fb88rGn0jzIM1X7RF"
        "2cI2jiD4rkQHB21cKWKVM5EB%2Bz9%2Fj1kWwXDkXa03UaZU%2FS6OUjPJenB08hkZrukkKrIm7dqMinD40AUW6y7U"
        "3x3lC0215A%3D%3D"
    ),
}
JAVA_KEY = "EpNnJ5vPSEL5vqSgG7Oe8fzgICZ3pzcqn1bEoHqzDA8="
JAVA_TIME = 1795985175
JAVA_STRING = (
    "sharedSecretEncryptedUrlQuery=7Mwltq8SkvqgMqRrCDHwoGO4zx3WPOo4jh96VY9TZblzUhim7ieedOyi9pKw"
    "0lPQWU7fSH%2F4fX69Sq7OhCTQglRlYTx6WoQq7DDTkkdAnRIhl7aKAjcPgHWtq3EXeKZZ36eeMrnZJN3s0HZ0Nuwo"
    "CDwuogiEDIu23ch3GRqnbW28kBPu9Q%2F2EcYiPhodY8KlD6Z0C6dOatvW5TBjhN9KBeIEyX5QwTSVABxbbsop%2Bd"
    "wttgKyzzp63ROXxYc6TC%2FY3Bi9Zqwa%2BVaVuR%2F9%2B%2Fdbk1X40y%2BVpqe0KET3wctnHkY4p3YJSuoOLEva"
    "12DnriYi1n3j50AmihApqar9FyUuGrLTyC0f9%2Bw%3D"
)


def _raw(launch_string: str) -> str:
    return unquote_plus(launch_string.split("=", 1)[1])


@pytest.mark.parametrize("name", SDK_2025)
def test_sdk_shared_secret_strings_decrypt(name: str) -> None:
    opened = crypto.shared_secret_open(_raw(SDK_2025[name]), base64.b64decode(SDK_KEY))
    assert opened.plaintext == FOX
    assert opened.signed_at == SDK_NOW
    assert len(opened.nonce) == 32


@pytest.mark.parametrize("name", SDK_2023)
def test_sdk_shared_secret_strings_from_2023_are_too_old(name: str) -> None:
    config = LaunchDecoderConfig("shared_secret", secret=SDK_KEY)
    with pytest.raises(LaunchExpiredError):
        decode_launch(config, SDK_2023[name], now=SDK_NOW)


@pytest.mark.parametrize(
    ("ciphertext", "key"),
    [
        (
            (
                "AYzB8TSRbhdsSudz0RhqciOa/zcU8H7ofC4JqrPfib+eCBzUHXNnRsAJjPp+TtuL3Qj3OhpP2fmO5cudnzUna2sxZi"
                "xuGP0AvFpD9q3YfgNlEr/Q2hRL+ObFinn4PRCSbg=="
            ),
            "wAx4qO+azccfOP8/PS5z6do5iHW7QxMUmf105Z4xHO0=",
        ),
        (
            (
                "AXZwdyHKl8vV32RAqu+YFWd4gJczYro2xHRNQAWgvPipliDH55EYUbrW7rvhWwIYx3LQjPCqgyF9jynN4htumTryxb"
                "UtC0RJ9QRu5v+T7bbJaJkqb0lg9Dm6ZeEIGlH3iQ=="
            ),
            "UTKhAYiVVuemX0BVR05MTvTputqyQUGN2oB2j4ZZShc=",
        ),
    ],
)
def test_sdk_legacy_symmetric_ciphertexts_decrypt(ciphertext: str, key: str) -> None:
    blob = base64.b64decode(ciphertext)
    assert crypto._symmetric_decrypt(blob, base64.b64decode(key)).decode() == FOX


def test_string_from_sdk_java_port_decodes_to_launch_parameters() -> None:
    config = LaunchDecoderConfig("shared_secret", secret=JAVA_KEY)
    decoded = decode_launch(config, JAVA_STRING, now=datetime.fromtimestamp(JAVA_TIME + 1, UTC))
    assert decoded.parameters == P(
        patient_id="19121212-1212",
        accession_numbers=("ACC-1",),
        mrn_integration_id="SE-PNR",
        sop_instance_uid="1.2.826.0.1.3680043.8.498.1",
        frame_number=7,
        uniview_command=UniViewCommand.SHOW_IMAGES,
        time=datetime.fromtimestamp(JAVA_TIME, UTC),
    )


def test_dotnet_binary_timestamp() -> None:
    # ToBinary() = ticks | 1 << 62 (DateTimeKind.Utc); TICKS_AT_EPOCH of the SDK's SignatureUtils.java
    raw = crypto.to_dotnet_binary(SDK_NOW)
    ticks = 621355968000000000 + 1746360000 * 10_000_000
    assert int.from_bytes(raw, "little") == ticks | 1 << 62
    assert crypto.from_dotnet_binary(raw) == SDK_NOW


def test_shared_secret_token_layout() -> None:
    secret = bytes(range(32))
    draws = iter([b"\x01" * 12, b"\x02" * 32, b"\x03" * 12])
    text = crypto.shared_secret_secure(FOX, secret, now=SDK_NOW, random=lambda n: next(draws))
    token = base64.b64decode(_raw(text))
    assert token[:12] == b"\x01" * 12  # EncryptedOneTimeSignature nonce
    assert token[44:52] == crypto.to_dotnet_binary(SDK_NOW)  # after the 32-byte HMAC
    assert token[52:84] == b"\x02" * 32  # OneTimeSignature nonce
    assert token[84] == 2 and token[85:97] == b"\x03" * 12  # SymmetricEncryption v2, GCM nonce
    assert len(token) == 97 + 16 + len(FOX)  # + tag + ciphertext
    value = text.split("=", 1)[1]
    assert not set(value) & set("+/=") and not re.search(r"%[0-9A-F]?[a-f]", value)  # WebUtility: %2B, %2F
    assert crypto.shared_secret_open(_raw(text), secret).plaintext == FOX


# --- round trips at three levels ------------------------------------------------------------------

NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
SECRET = bytes(range(100, 132))
STUDY = LaunchTarget("19121212-1212", "SE-PNR", ("ACC-1", "ACC-2"))
IMAGE = LaunchTarget("19121212-1212", "SE-PNR", ("ACC-1",), sop_instance_uid="1.2.826.0.1.3680043.8.498.1")
FRAME = LaunchTarget(
    "19121212-1212", None, ("ACC-1",), sop_instance_uid="1.2.826.0.1.3680043.8.498.2", frame=12
)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert(key: rsa.RSAPrivateKey, name: str) -> bytes:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(
            x509.KeyUsage(False, True, True, True, False, False, False, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def pki() -> dict[str, bytes]:
    ours, system, other = _key(), _key(), _key()
    return {
        "ours_key": _pem(ours),
        "ours_cert": _cert(ours, "breastgate"),
        "system_key": _pem(system),
        "system_cert": _cert(system, "Sectra URL launch"),
        "other_key": _pem(other),
        "other_cert": _cert(other, "someone else"),
    }


def _configs(mode: str, pki: dict[str, bytes]) -> tuple[LaunchConfig, LaunchDecoderConfig]:
    host = "pacs.example.org"
    if mode == "shared_secret":
        return (
            LaunchConfig("shared_secret", ids7_launcher_url(host), uniview_url(host), secret=SECRET),
            LaunchDecoderConfig("shared_secret", secret=SECRET),
        )
    return (
        LaunchConfig(
            "pki",
            ids7_launcher_url(host),
            uniview_url(host),
            signing_key_pem=pki["ours_key"],
            system_certificate_pem=pki["system_cert"],
        ),
        LaunchDecoderConfig(
            "pki", system_private_key_pem=pki["system_key"], integrating_certificate_pem=pki["ours_cert"]
        ),
    )


@pytest.mark.parametrize("mode", ["shared_secret", "pki"])
@pytest.mark.parametrize("target", [STUDY, IMAGE, FRAME], ids=["study", "image", "frame"])
def test_round_trip(mode: str, target: LaunchTarget, pki: dict[str, bytes]) -> None:
    config, decoder = _configs(mode, pki)
    links = launch_links(config, target, now=NOW)
    assert links["ids7"].startswith("sectra:?url=https://pacs.example.org/SectraHealthcareServer/&")
    assert "&productId=IDS7&" in links["ids7"]
    assert links["uniview"].startswith("https://pacs.example.org/uniview/#/apiLaunch?")
    expected = target.parameters().__class__(**{**target.parameters().__dict__, "time": NOW})
    ids7 = decode_launch(decoder, links["ids7"], now=NOW + timedelta(seconds=5))
    assert ids7.parameters == expected
    uniview = decode_launch(decoder, links["uniview"], now=NOW)
    assert uniview.parameters.uniview_command is UniViewCommand.SHOW_IMAGES
    assert uniview.parameters.frame_number == target.frame
    assert ids7.issued_at == NOW


def test_pki_string_format(pki: dict[str, bytes]) -> None:
    config, _ = _configs("pki", pki)
    text = encode_launch(config, STUDY.parameters(), now=NOW)
    names = [part.split("=", 1)[0] for part in text.split("&")]
    assert names == ["SEUS", "ESP", "IV", "V"]
    assert text.endswith("&V=1")
    fields = dict(part.split("=", 1) for part in text.split("&"))
    assert len(base64.b64decode(_unq(fields["ESP"]))) == 256  # RSA-2048 OAEP block
    assert len(base64.b64decode(_unq(fields["IV"]))) == 16
    assert all(c not in "+/=" for c in fields["SEUS"] + fields["ESP"] + fields["IV"])  # URL-encoded


def _unq(text: str) -> str:
    return unquote_plus(text)


def test_plaintext_is_the_sdk_access_string() -> None:
    config, decoder = _configs("shared_secret", {})
    decoded = decode_launch(decoder, launch_links(config, FRAME, now=NOW)["uniview"], now=NOW)
    assert decoded.plaintext == (
        "pat_id=19121212-1212&acc_no=ACC-1&sop_uid=1.2.826.0.1.3680043.8.498.2&frame_number=12"
        "&uniview_cmd=show_images&time=1795953600"
    )


# --- refusals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["shared_secret", "pki"])
def test_expired_and_future_strings_are_refused(mode: str, pki: dict[str, bytes]) -> None:
    config, decoder = _configs(mode, pki)
    url = launch_links(config, STUDY, now=NOW)["ids7"]
    decode_launch(decoder, url, now=NOW + timedelta(seconds=30))  # the SDK's bound is inclusive
    with pytest.raises(LaunchExpiredError, match="old"):
        decode_launch(decoder, url, now=NOW + timedelta(seconds=31))
    with pytest.raises(LaunchExpiredError, match="future"):
        decode_launch(decoder, url, now=NOW - timedelta(seconds=60))


def test_tampered_shared_secret_string_is_refused() -> None:
    config, decoder = _configs("shared_secret", {})
    token = bytearray(base64.b64decode(_raw(encode_launch(config, STUDY.parameters(), now=NOW))))
    for index in (0, 20, 50, 100, len(token) - 1):  # nonce, MAC, timestamp/nonce, ciphertext
        forged = bytearray(token)
        forged[index] ^= 0x01
        text = "sharedSecretEncryptedUrlQuery=" + base64.b64encode(forged).decode()
        with pytest.raises(LaunchAuthenticationError):
            decode_launch(decoder, text, now=NOW)


def test_wrong_secret_is_refused() -> None:
    config, _ = _configs("shared_secret", {})
    with pytest.raises(LaunchAuthenticationError):
        decode_launch(
            LaunchDecoderConfig("shared_secret", secret=bytes(32)), encode_launch(config, P(), NOW), NOW
        )


def test_pki_with_wrong_keys_or_tampering_is_refused(pki: dict[str, bytes]) -> None:
    config, decoder = _configs("pki", pki)
    text = encode_launch(config, IMAGE.parameters(), now=NOW)
    wrong_system = LaunchDecoderConfig(
        "pki", system_private_key_pem=pki["other_key"], integrating_certificate_pem=pki["ours_cert"]
    )
    wrong_signer = LaunchDecoderConfig(
        "pki", system_private_key_pem=pki["system_key"], integrating_certificate_pem=pki["other_cert"]
    )
    for bad in (wrong_system, wrong_signer):
        with pytest.raises(LaunchAuthenticationError):
            decode_launch(bad, text, now=NOW)
    fields = dict(part.split("=", 1) for part in text.split("&"))
    body = bytearray(base64.b64decode(_unq(fields["SEUS"])))
    body[160] ^= 0x01  # inside the signature (block 10)
    fields["SEUS"] = base64.b64encode(body).decode().replace("+", "%2B").replace("/", "%2F")
    with pytest.raises(LaunchAuthenticationError):
        decode_launch(decoder, "&".join(f"{k}={v}" for k, v in fields.items()), now=NOW)


def test_malformed_strings_are_token_errors() -> None:
    _, decoder = _configs("shared_secret", {})
    for text in (
        "",
        "pat_id=1",
        "sharedSecretEncryptedUrlQuery=not*base64",
        "sharedSecretEncryptedUrlQuery=AAAA",
    ):
        with pytest.raises(LaunchTokenError):
            decode_launch(decoder, text, now=NOW)


@pytest.mark.parametrize("frame", [0, -3])
def test_frame_must_be_one_based(frame: int) -> None:
    with pytest.raises(LaunchParameterError):
        LaunchTarget("P1", None, ("A1",), sop_instance_uid="1.2.3", frame=frame)
    with pytest.raises(LaunchParameterError):
        to_query_string(P(frame_number=frame))


def test_target_rules() -> None:
    with pytest.raises(LaunchParameterError):
        LaunchTarget("P1", None, ("A1",), frame=2)  # a frame needs its image
    with pytest.raises(LaunchParameterError):
        LaunchTarget("P1", None, ("A1", "A2"), sop_instance_uid="1.2.3")  # an image is in one study
    with pytest.raises(LaunchParameterError):
        LaunchTarget("", None, ("A1",))
    with pytest.raises(LaunchParameterError):
        LaunchTarget("P1", None, ("A^1",))


# --- configuration ------------------------------------------------------------------------------


def test_shared_secret_accepts_base64_and_hex() -> None:
    assert parse_shared_secret(JAVA_KEY) == base64.b64decode(JAVA_KEY)
    assert parse_shared_secret(SECRET.hex()) == SECRET
    assert parse_shared_secret(SECRET.hex().upper()) == SECRET
    for bad in ("c2hvcnQ=", "zz" * 32, base64.b64encode(bytes(33)).decode()):
        with pytest.raises(LaunchConfigurationError):
            parse_shared_secret(bad)


def test_config_is_checked_when_built(pki: dict[str, bytes]) -> None:
    with pytest.raises(LaunchConfigurationError):
        LaunchConfig("shared_secret", "x", None)
    with pytest.raises(LaunchConfigurationError):
        LaunchConfig("shared_secret", "x", None, secret=bytes(31))
    with pytest.raises(LaunchConfigurationError):
        LaunchConfig("pki", "x", None, signing_key_pem=pki["ours_key"])
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(LaunchConfigurationError):
        LaunchConfig("pki", "x", None, signing_key_pem=_pem(small), system_certificate_pem=pki["system_cert"])
    assert "secret=" not in repr(LaunchConfig("shared_secret", "x", None, secret=SECRET.hex()))


def test_only_configured_viewers_and_url_joining() -> None:
    config = LaunchConfig("shared_secret", None, uniview_url("pacs:8443"), secret=SECRET)
    assert list(launch_links(config, STUDY, now=NOW)) == ["uniview"]
    legacy = LaunchConfig("shared_secret", ids7_3pstart_url("pacs"), None, secret=SECRET)
    assert launch_links(legacy, STUDY, now=NOW)["ids7"].startswith(
        "https://pacs/ids7/3pstart.aspx?sharedSecretEncryptedUrlQuery="
    )


def test_errors_share_one_base() -> None:
    for error in (
        LaunchAuthenticationError,
        LaunchExpiredError,
        LaunchParameterError,
        LaunchConfigurationError,
    ):
        assert issubclass(error, LaunchError)
