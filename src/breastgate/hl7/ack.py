"""HL7 v2 acknowledgments, original mode (HL7 v2.5.1 §2.9.2): writing the ACK of a received
message, and reading the ACK a receiver answered ours with."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from breastgate.hl7.codec import Hl7Header, Hl7Refused
from breastgate.hl7.vocab import DEFAULT_SEPARATORS, HL7_ERROR_TEXT, VERSION, AckCode, escape_hl7


def build_ack(
    header: Hl7Header,
    ack: AckCode,
    *,
    control_id: str,
    error: Hl7Refused | None = None,
    application: str = "BREASTGATE",
    now: datetime | None = None,
) -> str:
    """The ACK for ``header``: MSH (sender and receiver swapped), MSA, and ERR when refused.

    ERR is written in the form of the message's version: ERR-1 (segment^sequence^field^code&text&
    HL70357) before v2.5; ERR-2 location, ERR-3 code, ERR-4 severity and ERR-8 text from v2.5.
    MSA-3 carries the reason in every version (deprecated, not removed, in v2.5).
    """
    seps = header.separators if len(header.separators) == 5 else DEFAULT_SEPARATORS
    fs, cs, ss = seps[0], seps[1], seps[4]
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    version = header.version if VERSION.match(header.version or "") else "2.5.1"
    trigger = header.trigger_event if re.fullmatch(r"[A-Z0-9]{3}", header.trigger_event or "") else ""
    msh = fs.join(
        [
            "MSH",
            seps[1:],
            application,
            escape_hl7(header.receiving_facility, seps),
            escape_hl7(header.sending_application, seps),
            escape_hl7(header.sending_facility, seps),
            stamp,
            "",
            f"ACK{cs}{trigger}{cs}ACK" if trigger else "ACK",
            control_id,
            header.processing_id if header.processing_id in ("P", "D", "T") else "P",
            version,
        ]
    )
    reason = escape_hl7(error.reason, seps)[:200] if error is not None else ""
    segments = [
        msh,
        fs.join(["MSA", ack.value, escape_hl7(header.control_id, seps)[:199]] + ([reason] if reason else [])),
    ]
    if error is not None:
        code_text = HL7_ERROR_TEXT[error.code]
        where = error.location or ("", 0, 0)
        location = cs.join(
            [where[0], str(where[1]) if where[1] else "", str(where[2]) if where[2] else ""]
        ).rstrip(cs)
        if version < "2.5":
            err1 = (
                cs.join([location, f"{error.code.value}{ss}{code_text}{ss}HL70357"])
                if location
                else (cs * 3 + f"{error.code.value}{ss}{code_text}{ss}HL70357")
            )
            segments.append(fs.join(["ERR", err1]))
        else:
            severity = "E"
            segments.append(
                fs.join(
                    [
                        "ERR",
                        "",
                        location,
                        cs.join([error.code.value, code_text, "HL70357"]),
                        severity,
                        "",
                        "",
                        "",
                        reason,
                    ]
                )
            )
    return "\r".join(segments) + "\r"


@dataclass(frozen=True)
class AckReply:
    """What a receiver answered (MSA): its code (MSA-1), the control id it acknowledges (MSA-2)
    and its reason (MSA-3, ERR text folded in by senders that use it)."""

    code: str
    control_id: str
    reason: str


def _fields(segment: str, separator: str) -> list[str]:
    return segment.split(separator)


def control_id_of(message: str) -> str:
    """MSH-10 of a message in ER7 form (``\\r`` segment ends); empty when there is no MSH."""
    msh = message.split("\r", 1)[0]
    if not msh.startswith("MSH") or len(msh) < 4:
        return ""
    parts = _fields(msh, msh[3])
    return parts[9] if len(parts) > 9 else ""  # MSH-1 is the separator itself


def read_ack(text: str) -> AckReply:
    """The MSA of an ACK in ER7 form; an answer without MSA gives empty fields (not an ACK)."""
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    msh = text.split("\r", 1)[0]
    separator = msh[3] if msh.startswith("MSH") and len(msh) > 3 else "|"
    msa = next((s for s in text.split("\r") if s.startswith(f"MSA{separator}")), "")
    parts = _fields(msa, separator) + [""] * 4
    return AckReply(parts[1], parts[2], parts[3])
