"""HL7 v2 vocabulary shared by the codec, the ACK and the message builders: acknowledgment codes
(table 0008), error condition codes (table 0357), escaping (HL7 v2.5.1 §2.7)."""

from __future__ import annotations

import re
from enum import StrEnum

#: Field separator and encoding characters when a message names none (MSH-1, MSH-2).
DEFAULT_SEPARATORS = "|^~\\&"
#: Versions read and answered (2.1 to 2.8, with or without a third part).
VERSION = re.compile(r"^2\.[1-8](\.\d+)?$")


class AckCode(StrEnum):
    """MSA-1 acknowledgment codes (HL7 table 0008, original mode)."""

    ACCEPT = "AA"  # accepted and stored
    ERROR = "AE"  # understood, but its content is wrong: do not resend unchanged
    REJECT = "AR"  # refused for its header (type, version, processing id) or our own failure: may resend


class Hl7ErrorCode(StrEnum):
    """ERR condition codes (HL7 table 0357) this gateway answers with."""

    SEGMENT_SEQUENCE = "100"
    REQUIRED_FIELD_MISSING = "101"
    DATA_TYPE = "102"
    TABLE_VALUE_NOT_FOUND = "103"
    UNSUPPORTED_MESSAGE_TYPE = "200"
    UNSUPPORTED_EVENT = "201"
    UNSUPPORTED_PROCESSING_ID = "202"
    UNSUPPORTED_VERSION = "203"
    UNKNOWN_KEY = "204"
    INTERNAL_ERROR = "207"


#: Display names of :class:`Hl7ErrorCode` (table 0357), sent in ERR and MSA-3.
HL7_ERROR_TEXT: dict[Hl7ErrorCode, str] = {
    Hl7ErrorCode.SEGMENT_SEQUENCE: "Segment sequence error",
    Hl7ErrorCode.REQUIRED_FIELD_MISSING: "Required field missing",
    Hl7ErrorCode.DATA_TYPE: "Data type error",
    Hl7ErrorCode.TABLE_VALUE_NOT_FOUND: "Table value not found",
    Hl7ErrorCode.UNSUPPORTED_MESSAGE_TYPE: "Unsupported message type",
    Hl7ErrorCode.UNSUPPORTED_EVENT: "Unsupported event code",
    Hl7ErrorCode.UNSUPPORTED_PROCESSING_ID: "Unsupported processing id",
    Hl7ErrorCode.UNSUPPORTED_VERSION: "Unsupported version id",
    Hl7ErrorCode.UNKNOWN_KEY: "Unknown key identifier",
    Hl7ErrorCode.INTERNAL_ERROR: "Application internal error",
}


def escape_hl7(value: str, separators: str = "|^~\\&") -> str:
    """HL7-escape text for one field or component (\\F\\ \\S\\ \\R\\ \\E\\ \\T\\); line ends become spaces."""
    full = (separators + "|^~\\&"[len(separators) :])[:5]
    fs, cs, rs, esc, ss = full[0], full[1], full[2], full[3], full[4]
    out = value.replace(esc, f"{esc}E{esc}")
    for char, code in ((fs, "F"), (cs, "S"), (rs, "R"), (ss, "T")):
        out = out.replace(char, f"{esc}{code}{esc}")
    return out.replace("\r", " ").replace("\n", " ")
