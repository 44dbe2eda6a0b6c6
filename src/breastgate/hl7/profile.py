"""HL7 profiles: where a site's RIS reads the AI priority and flags (``BG_HL7_PROFILE``).

No standard HL7 v2 field carries an AI triage result, and which field a RIS or a PACS worklist
reads for the reading priority is site configuration (reference ``dicom-sr.md`` §6, ``sectra.md``
§2). A profile says, for the order priority update and for the ORU^R01:

- which message updates an order: ``orm`` (ORM^O01, v2.3.1 by default) or ``omi`` (OMI^O23,
  v2.5.1), with which ORC-1 order control (``XO`` change order, by default) and ORC-5 status;
- which fields carry the priority: ``ORC-7.6`` and ``OBR-27.6`` (the TQ priority component,
  table 0027) and/or ``TQ1-9`` (CWE, table 0485), in the update and, optionally, in the ORU's
  order group;
- which code each worklist priority gets (``stat``/``urgent``/``routine`` → table 0027 by
  default) and how the site's codes rank (so that the AI only ever raises an order's priority);
- how each triage flag is coded in its OBX (code, text, coding system) and which OBX-8 abnormal
  flag (table 0078) the triage rows carry at each priority.

Built-in profiles: ``default`` (what breastgate sends with no profile) and ``sectra`` (a starting
point for a Sectra RIS / IDS7 site; every choice in it is to be confirmed with the site's Sectra
HL7 interface specification, docs/integrations/sectra.md §3). A site profile is a TOML file with a
``[profile]`` table that may start from a built-in one (``base = "sectra"``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from breastgate.domain.errors import ConfigurationError
from breastgate.domain.model import Priority

#: Fields that may carry a priority: the TQ priority component and TQ1-9.
PRIORITY_FIELDS = ("ORC-7.6", "OBR-27.6", "TQ1-9")
#: Urgency of table 0027 codes (lower is more urgent); P, T and C count as urgent.
TABLE_0027_RANK: Mapping[str, int] = {"S": 0, "A": 1, "P": 1, "T": 1, "C": 1, "R": 2}
TRIAGE_FLAGS = (
    "suspicious_finding",
    "birads_0_suspected",
    "positioning_inadequate",
    "dense_breast",
    "new_finding",
    "growing_finding",
    "washout_kinetics",
)
_UPDATE_VERSION = {"orm": "2.3.1", "omi": "2.5.1"}
_UPDATE_FIELDS = {"orm": ("ORC-7.6", "OBR-27.6"), "omi": ("TQ1-9",)}


@dataclass(frozen=True)
class Hl7Profile:
    """How priority and flags are written into HL7 for one site (see the module docstring)."""

    name: str = "default"
    update_message: str = "orm"
    update_order_control: str = "XO"
    update_order_status: str = "SC"
    #: MSH-12 of the update; empty = 2.3.1 for ORM, 2.5.1 for OMI.
    update_version: str = ""
    #: Fields carrying the new priority in the update; empty = ORC-7.6 + OBR-27.6 (ORM), TQ1-9 (OMI).
    update_priority_fields: tuple[str, ...] = ()
    #: Fields carrying the AI priority in the ORU's order group (none by default: it is an OBX).
    oru_priority_fields: tuple[str, ...] = ()
    priority_codes: Mapping[str, str] = field(
        default_factory=lambda: {"stat": "S", "urgent": "A", "routine": "R"}
    )
    #: Rank of the site's priority codes, most urgent lowest; codes not listed count as urgent.
    priority_rank: Mapping[str, int] = field(default_factory=lambda: dict(TABLE_0027_RANK))
    flag_coding_system: str = "99BG"
    #: flag → "code^text"; a flag not listed is coded as its own name.
    flag_codes: Mapping[str, str] = field(default_factory=dict)
    #: worklist priority → OBX-8 abnormal flag (table 0078) on the triage OBX rows.
    abnormal_flags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.update_message not in _UPDATE_VERSION:
            raise ConfigurationError(
                f"HL7 profile {self.name}: update_message must be orm or omi, not {self.update_message!r}"
            )
        for name in (*self.update_priority_fields, *self.oru_priority_fields):
            if name not in PRIORITY_FIELDS:
                raise ConfigurationError(
                    f"HL7 profile {self.name}: unknown priority field {name!r} ({', '.join(PRIORITY_FIELDS)})"
                )
        if self.update_message == "orm" and "TQ1-9" in self.update_priority_fields:
            raise ConfigurationError(f"HL7 profile {self.name}: ORM^O01 has no TQ1 segment")
        for label, keys, allowed in (
            ("priority_codes", self.priority_codes, {p.value for p in Priority}),
            ("abnormal_flags", self.abnormal_flags, {p.value for p in Priority}),
            ("flag_codes", self.flag_codes, set(TRIAGE_FLAGS)),
        ):
            unknown = set(keys) - allowed
            if unknown:
                raise ConfigurationError(
                    f"HL7 profile {self.name}: {label} has unknown keys {sorted(unknown)} "
                    f"(expected {', '.join(sorted(allowed))})"
                )
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in self.priority_rank.values()):
            raise ConfigurationError(f"HL7 profile {self.name}: priority_rank values must be integers")
        missing = {p.value for p in Priority} - set(self.priority_codes)
        if missing:
            raise ConfigurationError(f"HL7 profile {self.name}: priority_codes lacks {sorted(missing)}")
        for text in (*self.priority_codes.values(), *self.flag_codes.values(), *self.abnormal_flags.values()):
            if not text or any(c in text for c in "|~\\&\r\n"):
                raise ConfigurationError(
                    f"HL7 profile {self.name}: code {text!r} is empty or holds an HL7 delimiter"
                )

    @property
    def version(self) -> str:
        return self.update_version or _UPDATE_VERSION[self.update_message]

    @property
    def update_fields(self) -> tuple[str, ...]:
        return self.update_priority_fields or _UPDATE_FIELDS[self.update_message]

    def code(self, priority: Priority) -> str:
        return self.priority_codes[priority.value]

    def rank(self, code: str | None) -> int:
        """Urgency of a site code (lower is more urgent); an order with no priority is routine."""
        if not code:
            return max(self.priority_rank.values(), default=2)
        return self.priority_rank.get(code, 1)

    def raises(self, priority: Priority, order_code: str | None) -> bool:
        """True when the AI priority is more urgent than the order's: the AI never lowers one."""
        return self.rank(self.code(priority)) < self.rank(order_code)

    def flag(self, flag: str) -> tuple[str, str]:
        """(code, text) of a triage flag's OBX value."""
        mapped = self.flag_codes.get(flag)
        if mapped is None:
            return flag, flag.replace("_", " ")
        code, _, text = mapped.partition("^")
        return code, text or flag.replace("_", " ")


DEFAULT_PROFILE = Hl7Profile()

#: Starting point for a Sectra site. Nothing here is verified against a Sectra HL7 specification
#: (none is public): ORM^O01 XO in v2.3.1 with the priority in both ORC-7.6 and OBR-27.6 (the
#: pre-v2.5 TQ places), the AI priority also in the ORU's OBR-27.6, and OBX-8 "A" on the triage
#: rows when the AI asks for urgent reading.
SECTRA_PROFILE = Hl7Profile(
    name="sectra",
    update_message="orm",
    update_priority_fields=("ORC-7.6", "OBR-27.6"),
    oru_priority_fields=("OBR-27.6",),
    abnormal_flags={"stat": "AA", "urgent": "A"},
)

BUILT_IN: Mapping[str, Hl7Profile] = {"default": DEFAULT_PROFILE, "sectra": SECTRA_PROFILE}


def load_profile(value: str) -> Hl7Profile:
    """A built-in profile by name, or a site TOML file (``[profile]``, optional ``base``)."""
    value = value.strip()
    if not value:
        return DEFAULT_PROFILE
    if value in BUILT_IN:
        return BUILT_IN[value]
    path = Path(value)
    if not path.is_file():
        raise ConfigurationError(
            f"BG_HL7_PROFILE: {value!r} is neither a built-in profile ({', '.join(BUILT_IN)}) nor a file"
        )
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("profile")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"BG_HL7_PROFILE {path.name}: {exc}") from None
    if not isinstance(table, dict):
        raise ConfigurationError(f"BG_HL7_PROFILE {path.name}: no [profile] table")
    return profile_from_table(table, path.stem)


def profile_from_table(table: Mapping[str, Any], default_name: str) -> Hl7Profile:
    data = dict(table)
    base_name = str(data.pop("base", "default"))
    if base_name not in BUILT_IN:
        raise ConfigurationError(f"HL7 profile {default_name}: unknown base {base_name!r}")
    base = BUILT_IN[base_name]
    known = {f.name for f in fields(Hl7Profile)}
    unknown = set(data) - known
    if unknown:
        raise ConfigurationError(f"HL7 profile {default_name}: unknown keys {sorted(unknown)}")
    changes: dict[str, Any] = {"name": str(data.pop("name", default_name))}
    for key, item in data.items():
        current = getattr(base, key)
        if isinstance(current, tuple):
            if not isinstance(item, list) or not all(isinstance(i, str) for i in item):
                raise ConfigurationError(f"HL7 profile {default_name}: {key} must be a list of strings")
            changes[key] = tuple(item)
        elif isinstance(current, Mapping):
            if not isinstance(item, dict):
                raise ConfigurationError(f"HL7 profile {default_name}: {key} must be a table")
            merged = dict(current)
            merged.update(item)
            changes[key] = merged
        elif not isinstance(item, str):
            raise ConfigurationError(f"HL7 profile {default_name}: {key} must be a string")
        else:
            changes[key] = item
    return replace(base, **changes)
