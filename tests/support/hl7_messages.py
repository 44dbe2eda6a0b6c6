"""HL7 v2 messages as RIS systems send them, built for the tests (synthetic patients only)."""

from __future__ import annotations


def _msh(kind: str, control_id: str, version: str, processing: str = "P") -> str:
    head = "MSH|^~\\&|RIS|RADIOLOGY|BREASTGATE|BREASTCENTRE|20261129083000|"
    return f"{head}|{kind}|{control_id}|{processing}|{version}"


def orm(
    control_id: str = "ORM0001",
    *,
    patient_id: str = "PAT001",
    accession: str = "ACC0001",
    placer: str = "PLC0001",
    control: str = "NW",
    priority: str = "R",
    scheduled: str = "20261129",
    modality: str = "MG",
    study_uid: str | None = None,
    version: str = "2.3.1",
    name: str = "TEST^MAMMO^A",
) -> str:
    """ORM^O01 in the IHE RAD-4 form: OBR-18 accession, OBR-19 requested procedure, OBR-24 modality, ZDS."""
    segments = [
        _msh("ORM^O01", control_id, version),
        f"PID|1||{patient_id}^^^HOSP^MR||{name}||19640312|F|||1 MAIN ST^^CITY^^12345",
        "PV1|1|O|MAMMO^^^HOSP",
        f"ORC|{control}|{placer}|{accession}||SC||^^^{scheduled}^^{priority}",
        "|".join(
            ["OBR", "1", placer, accession, "77067^SCREENING MAMMOGRAPHY BILATERAL^CPT", "", "", scheduled]
            + [""] * 10
            + [
                accession,
                f"RP{accession}",
                f"SPS{accession}",
                "",
                "",
                "",
                modality,
                "",
                "",
                f"^^^{scheduled}^^{priority}",
            ]
            + ["", "", "", "^SCREENING", "", "", "", "", scheduled]
        ),
    ]
    if study_uid:
        segments.append(f"ZDS|{study_uid}^RIS^Application^DICOM")
    return "\r".join(segments) + "\r"


def omi(
    control_id: str = "OMI0001",
    *,
    patient_id: str = "PAT002",
    accession: str = "ACC0002",
    placer: str = "PLC0002",
    priority: str = "S",
    scheduled: str = "202611290900",
    study_uid: str = "1.2.826.0.1.3680043.10.1403.99.1",
) -> str:
    """OMI^O23 (v2.5.1, IHE RAD-4/RAD-13): TQ1 priority and start, IPC accession, Study UID, modality."""
    return (
        "\r".join(
            [
                _msh("OMI^O23^OMI_O23", control_id, "2.5.1"),
                f"PID|1||{patient_id}^^^HOSP^MR||TEST^OMI||19700101|F",
                f"ORC|NW|{placer}|{accession}||SC",
                f"TQ1|1||||||{scheduled}||{priority}^Stat^HL70485",
                f"OBR|1|{placer}|{accession}|77067^SCREENING MAMMOGRAPHY^CPT",
                f"IPC|{accession}|RP1|{study_uid}|SPS1|MG",
            ]
        )
        + "\r"
    )


def adt(
    event: str,
    control_id: str,
    *,
    patient_id: str = "PAT001",
    prior_id: str | None = None,
    version: str = "2.5",
    name: str = "TEST^MAMMO^A",
) -> str:
    """ADT^A01/A04/A08, or A40 with MRG-1 = ``prior_id``."""
    segments = [
        _msh(f"ADT^{event}", control_id, version),
        "EVN|" + event + "|20261129083000",
        f"PID|1||{patient_id}^^^HOSP^MR||{name}||19640312|F",
    ]
    if prior_id is not None:
        segments.append(f"MRG|{prior_id}^^^HOSP^MR")
    return "\r".join(segments) + "\r"


def send_mllp(port: int, *messages: str, host: str = "127.0.0.1", timeout: float = 10.0) -> list[str]:
    """Send messages on one MLLP connection; return each ACK's text (a test-side RIS)."""
    import socket

    acks: list[str] = []
    with socket.create_connection((host, port), timeout=timeout) as sock:
        buf = b""
        for message in messages:
            sock.sendall(b"\x0b" + message.encode("utf-8") + b"\x1c\x0d")
            while b"\x1c\x0d" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("MLLP peer closed before the ACK")
                buf += chunk
            head, buf = buf.split(b"\x1c\x0d", 1)
            acks.append(head.lstrip(b"\x0b").decode("utf-8"))
    return acks


def ack_code(ack: str) -> tuple[str, str]:
    """(MSA-1, MSA-2) of an ACK."""
    fields = next(s for s in ack.split("\r") if s.startswith("MSA|")).split("|")
    return fields[1], fields[2]


def oru(
    control_id: str = "ORU0001",
    *,
    accession: str = "ACC0001",
    patient_id: str = "PAT0001",
    status: str = "F",
    obx: tuple[str, ...] = (),
    study_uid: str = "",
    version: str = "2.5.1",
    sender: str = "RIS",
) -> str:
    """ORU^R01 from a reporting system or a pathology system; ``obx`` are OBX segments without
    their set id (``"CWE|BIRADS^BI-RADS assessment^L||4^Suspicious^L"``)."""
    head = _msh("ORU^R01^ORU_R01", control_id, version).replace("|RIS|", f"|{sender}|", 1)
    segments = [
        head,
        f"PID|1||{patient_id}^^^HOSP^MR||TEST^PATIENT||19600101|F",
        f"OBR|1|PLC-{accession}|{accession}|MAMMO^Screening mammogram|||20261129|||||||||||{accession}"
        f"||||20261130|||{status}",
    ]
    if study_uid:
        segments.append(f"ZDS|{study_uid}^BREASTGATE^Application^DICOM")
    segments += [f"OBX|{i}|{seg}" for i, seg in enumerate(obx, start=1)]
    return "\r".join(segments) + "\r"
