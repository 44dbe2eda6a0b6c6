"""Where a breast ultrasound image was taken: the location written on it, read as data.

Scanners write the transducer position as text ("RT BREAST 10:00 3 CM FN", "L 2 o'clock 4cmFN",
"LT BR 2:00 4CM FN RAD"); :func:`parse_annotation` turns such text into a :class:`UsLocation`,
:func:`parse_structured` adds the DICOM laterality, and :mod:`breastgate.imaging.us_ocr` reads the
burned-in text off the frame. Conventions: reference algorithms.md §7 (clock face read facing the
patient, whole hours, distance from the nipple in cm, rings 1/2/3, SA subareolar, depths A/B/C,
radial / antiradial planes). A field that cannot be read, or is written twice with different
values, is ``None``: never guessed.

Rules are data (:data:`RULES`): an ordered table of named regular expressions run over each line
after :func:`normalise`. A rule's match is blanked out of the line (the side words excepted: the
bare-clock rule reads the number after them), so a later rule cannot read the same words again
("ANTIRAD" is not also "RAD", "DEPTH 4 CM" is not a nipple distance).
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

LOGGER = logging.getLogger(__name__)

#: Largest distance from the nipple (cm) that is read; a larger number is not a nipple distance.
MAX_DISTANCE_CM = 25.0

_INVALID = object()  # a candidate that was written but is out of range: the field is unreadable

# Words (letters only) are bounded by anything that is not a letter; numbers by non-digits.
_W0 = r"(?<![A-Z])"
_W1 = r"(?![A-Z])"
_N0 = r"(?<![\d.:])"
_NUM = r"(?P<n>\d{1,3}(?:\.\d{1,2})?)"
_LAT_R = r"RIGHT|RT|RBR|RB|R"
_LAT_L = r"LEFT|LT|LBR|LB|L"
_BREAST = r"(?: *(?:BREAST|BRST|BR)" + _W1 + ")?"
# A side word stands alone, or is glued to a clock time ("RT10:00", "L2:00") but not to other
# digits, so a transducer name such as "L12-5" or "14L5" is not a side.
_LAT0 = r"(?<![A-Z0-9])"
_LAT_END = r"(?=$|[^A-Z0-9]|\d{1,2}[:.]\d{2}(?!\d)|\d{1,2} *(?:OCLOCK|HRS|HR|H)(?![A-Z]))"
# "FN" as OCR also reads it after "CM": "CMMFN" (the m doubled), "CMEN", "CMFl", "CMF".
_NIPPLE = r"(?:M? *[FE] *[NLIF1|]?|FROM *(?:THE *)?N(?:IPPLE)?|FR *N(?:IPPLE)?|FROM *NIP)" + _W1
_MEASURE_WORD = r"(?:DEPTH|DEP|DIST|D\d?|LEN|LENGTH|WIDTH|W|AP|AREA|VOL|SIZE)"
_HOUR_WORD = r"(?:OCLOCK|OCLK|HOURS|HOUR|HRS|HR|H|OC)" + _W1


@dataclass(frozen=True)
class UsLocation:
    """A breast ultrasound location as written on or with the image (algorithms.md §7).

    Attributes
    ----------
    laterality:
        ``"L"`` or ``"R"``; ``None`` when not written or written both ways.
    clock:
        Clock-face hour 1–12 read facing the patient (3 = lateral in the left breast). Minutes are
        rounded to the nearer hour, half hours up ("10:30" -> 11, "11:30" -> 12, "12:30" -> 1);
        "0:00" is 12. ``None`` when out of range ("13:00") or contradictory.
    clock_hours:
        The clock as written, in hours (10.5 for "10:30"), 12 for "0:00"/"12:00".
    distance_from_nipple_mm:
        From "3 CM FN", "FN 3CM", "30 MM FN", "N+3" (cm), "3 cm from nipple"; a bare "3 CM" only on a
        line that also gives the clock and not after a measurement word (DEPTH, DIST, D1...).
        Ring notation gives ``ring``, never a distance: the reference does not give the rings'
        widths, so no number is made up for them.
    ring:
        Ring 1/2/3 of the ring notation ("RING 2", "ZONE 2", "2B" = ring 2, depth B).
    region:
        ``"subareolar"`` (SA), ``"retroareolar"``, ``"central"``, ``"axilla"`` or
        ``"axillary tail"``.
    plane:
        ``"radial"``, ``"antiradial"``, ``"transverse"``, ``"sagittal"`` (also LONG), ``"oblique"``.
    depth:
        ``"A"``, ``"B"`` or ``"C"`` when written ("DEPTH B", "2B").
    source:
        Where the text came from: ``"text"``, ``"ocr"`` or ``"structured"``.
    raw:
        The text read.
    conflicts:
        Names of the fields that were written with different values or out of range (then None).
    """

    laterality: str | None = None
    clock: int | None = None
    clock_hours: float | None = None
    distance_from_nipple_mm: float | None = None
    ring: int | None = None
    region: str | None = None
    plane: str | None = None
    depth: str | None = None
    source: str = "text"
    raw: str = ""
    conflicts: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        """True when both the side and the clock were read."""
        return self.laterality is not None and self.clock is not None


# ---------------------------------------------------------------------------------------------
# Normalising OCR text
# ---------------------------------------------------------------------------------------------

_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "′": "'", "“": '"', "”": '"'})
# "o'clock" in its spellings, protected before digit repair so "10OCLOCK" keeps its O.
_OCLOCK = re.compile(r"[O0] ?['\".,]? ?C ?L ?[O0] ?C ?K|[O0]'? ?CLK", re.IGNORECASE)
# Runs of digits and the letters OCR confuses with them; repaired only when they hold a digit
# or have the shape of a time ("IO:OO").
_NUMERIC_RUN = re.compile(r"[0-9OoIl|S]+(?:[:;.,][0-9OoIl|S]+)*")
_TIME_SHAPE = re.compile(r"^[0-9OoIl|]{1,2}[:;][0-9Oo]{2}$")
_RUN_PARTS = re.compile(r"([OoIl|S]*)(.*?)([OoIl|S]*)")
_DIGIT_FIX = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "|": "1", "S": "5", ";": ":"})


def _repair_run(match: re.Match[str]) -> str:
    run = match.group(0)
    start, end = match.span()
    text = match.string
    # Letters at an end of the run glued to a word belong to the word ("2:00SAG", "BRO").
    parts = _RUN_PARTS.fullmatch(run)
    assert parts is not None  # the pattern matches every string
    head, core, tail = parts.groups()
    if not (start > 0 and text[start - 1].isalpha()):
        head, core = "", head + core
    if not (end < len(text) and text[end].isalpha()):
        core, tail = core + tail, ""
    if not (any(ch.isdigit() for ch in core) or _TIME_SHAPE.match(core)):
        return run
    fixed = core.translate(_DIGIT_FIX)
    return head + re.sub(r"(?<=\d),(?=\d)", ".", fixed) + tail


# A lone lower-case l is OCR's 1 (a depth tick "-1" reads "-l"); scanners write the side upper-case.
_LONE_L = re.compile(r"(?<![A-Za-z0-9])l(?![A-Za-z0-9])")
# Short side words in lower case ("lt", "r") are OCR noise (a tick and "MI" read as "lt mi"):
# scanners write them upper-case. "left"/"right", and a side before "breast"/"br", in any case.
_LOWER_SIDE = re.compile(
    r"(?<![A-Za-z0-9])(?:lt|rt|lbr|rbr|lb|rb|r)(?![A-Za-z])(?! *(?:[Bb][Rr][Ee][Aa][Ss][Tt]|[Bb][Rr])\b)"
)
# A lone S, I, l or | right before "cm"/"mm" is a digit: "SCM FN" is OCR's "5CM FN".
_DIGIT_BEFORE_UNIT = re.compile(r"(?<![A-Za-z0-9.])([SIl|])(?= ?[CcMm][Mm])")


def normalise(line: str) -> str:
    """One line of annotation text in the form :data:`RULES` read.

    Unicode folded (NFKC, curly quotes), "o'clock" spellings made ``OCLOCK``, OCR confusions
    repaired in numeric context (O->0, I/l/|->1, S->5, ";"->":", decimal comma; also a lone
    S/I/l before "cm"/"mm": "SCM" -> "5CM"; a lone lower-case l), short side words in lower case
    ("lt", "r") dropped as noise, upper case, punctuation other than ``: . +`` made a space,
    spaces collapsed.
    """
    text = unicodedata.normalize("NFKC", line).translate(_QUOTES)
    text = _OCLOCK.sub(" OCLOCK ", text)
    text = _NUMERIC_RUN.sub(_repair_run, text)
    text = _DIGIT_BEFORE_UNIT.sub(lambda m: m.group(1).translate(_DIGIT_FIX), text)
    text = _LONE_L.sub("1", text)
    text = _LOWER_SIDE.sub(" ", text)
    text = text.upper()
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)
    text = re.sub(r"[^A-Z0-9:.+ ]", " ", text)
    return re.sub(r" +", " ", text).strip()


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------

Value = Callable[[re.Match[str]], object]


@dataclass(frozen=True)
class Rule:
    """One parse rule: a named pattern that gives a value for one field of :class:`UsLocation`.

    ``fallback`` rules are read only when no earlier rule of the same line gave that field;
    ``needs`` names a field an earlier rule must have read on the same line; ``consume`` blanks
    the match out of the line for the rules after it.
    """

    name: str
    field: str
    pattern: re.Pattern[str]
    value: Value
    fallback: bool = False
    consume: bool = True
    needs: str | None = None


def _const(value: object) -> Value:
    return lambda _m: value


def _clock_time(m: re.Match[str]) -> object:
    hour, minute = int(m.group(1)), int(m.group(2))
    if hour > 12 or minute > 59:
        return _INVALID
    return (hour or 12) + minute / 60.0


def _clock_hour(m: re.Match[str]) -> object:
    hour = int(m.group(1))
    return float(hour) if 1 <= hour <= 12 else _INVALID


def _mm(number: str, unit: str | None) -> object:
    value = float(number)
    cm = value / 10.0 if unit is not None and unit.replace(" ", "") == "MM" else value
    return cm * 10.0 if 0.0 <= cm <= MAX_DISTANCE_CM else _INVALID


def _distance(m: re.Match[str]) -> object:
    return _mm(m.group("n"), m.group("u"))


def _ring(m: re.Match[str]) -> object:
    return int(m.group("ring"))


def _rule(
    name: str,
    field_name: str,
    pattern: str,
    value: Value,
    *,
    fallback: bool = False,
    consume: bool = True,
    needs: str | None = None,
) -> Rule:
    return Rule(name, field_name, re.compile(pattern), value, fallback, consume, needs)


#: The parse rules, in the order they run over a normalised line.
RULES: tuple[Rule, ...] = (
    # side (left in the line: the bare-clock rule reads the number after it)
    _rule("right", "laterality", rf"{_LAT0}(?:{_LAT_R}){_BREAST}{_LAT_END}", _const("R"), consume=False),
    _rule("left", "laterality", rf"{_LAT0}(?:{_LAT_L}){_BREAST}{_LAT_END}", _const("L"), consume=False),
    # distance from the nipple, written with the nipple
    _rule("cm_fn", "distance", rf"{_N0}{_NUM} *(?P<u>C *M|M *M) *{_NIPPLE}", _distance),
    _rule("fn_cm", "distance", rf"{_W0}FN *:? *{_NUM} *(?P<u>CM|MM)?{_W1}", _distance),
    _rule("n_plus", "distance", rf"{_W0}N *\+ *{_NUM} *(?P<u>CM|MM)?{_W1}", _distance),
    # a measurement that is not a nipple distance: consumed so the bare-cm fallback skips it
    _rule(
        "measurement",
        "measurement",
        rf"{_W0}{_MEASURE_WORD} *[:=]? *\d+(?:\.\d+)? *(?:CM|MM){_W1}",
        _const(None),
    ),
    # clock
    _rule("clock_time", "clock", r"(?<![\d.:])(\d{1,2}):(\d{2})(?![\d.:])", _clock_time),
    _rule("clock_word", "clock", rf"{_N0}(\d{{1,2}}) *{_HOUR_WORD}", _clock_hour),
    # "10.00": a time only beside a side word; settings such as "TIS 0.50" are decimals
    _rule(
        "clock_dot",
        "clock",
        r"(?<![\d.:])(\d{1,2})\.(\d{2})(?![\d.:]| *(?:CM|MM))",
        _clock_time,
        fallback=True,
        needs="laterality",
    ),
    _rule(
        "clock_bare",
        "clock",
        rf"(?<![A-Z0-9])(?:{_LAT_R}|{_LAT_L}){_BREAST} +(\d{{1,2}})(?![\d:./\-A-Z+])(?! *(?:CM|MM))",
        _clock_hour,
        fallback=True,
    ),
    # ring notation and depth letter
    _rule("ring_depth", "ring", r"(?<![A-Z0-9.:])(?P<ring>[1-3])(?P<d>[ABC])(?![A-Z0-9])", _ring),
    _rule("ring_word", "ring", rf"{_W0}(?:RING|ZONE) *(?P<ring>[1-3])(?!\d)", _ring),
    _rule("depth_word", "depth", rf"{_W0}DEPTH *:? *([ABC]){_W1}", lambda m: m.group(1)),
    # region
    _rule("axillary_tail", "region", rf"{_W0}(?:AXILLARY|AXIL|AX) *TAIL{_W1}", _const("axillary tail")),
    _rule("axilla", "region", rf"{_W0}(?:AXILLARY|AXILLA|AXIL|AX){_W1}", _const("axilla")),
    _rule("subareolar", "region", rf"{_W0}(?:SUB *AREOLAR|SA){_W1}", _const("subareolar")),
    _rule("retroareolar", "region", rf"{_W0}(?:RETRO *AREOLAR|RETROAR|RA){_W1}", _const("retroareolar")),
    _rule("central", "region", rf"{_W0}CENTRAL{_W1}", _const("central")),
    # plane
    _rule("antiradial", "plane", rf"{_W0}(?:ANTI *RAD(?:IAL)?|ARAD|AR){_W1}", _const("antiradial")),
    _rule("radial", "plane", rf"{_W0}RAD(?:IAL)?{_W1}", _const("radial")),
    _rule("transverse", "plane", rf"{_W0}(?:TRANSVERSE|TRANSV|TRANS|TRV){_W1}", _const("transverse")),
    _rule("sagittal", "plane", rf"{_W0}(?:SAGITTAL|SAGIT|SAG|LONGITUDINAL|LONG){_W1}", _const("sagittal")),
    _rule("oblique", "plane", rf"{_W0}(?:OBLIQUE|OBLQ|OBL){_W1}", _const("oblique")),
    # a bare "3 CM": a nipple distance only on a line that gives the clock
    _rule("cm_bare", "distance", rf"{_N0}{_NUM} *(?P<u>CM|MM){_W1}", _distance, fallback=True, needs="clock"),
)


@dataclass
class _Found:
    values: dict[str, list[object]] = field(default_factory=dict)
    rules: list[str] = field(default_factory=list)

    def add(self, name: str, value: object) -> None:
        self.values.setdefault(name, []).append(value)


def _read_line(line: str, found: _Found) -> None:
    """Run :data:`RULES` over one normalised line, adding what they read to ``found``."""
    text = line
    local = _Found()
    for rule in RULES:
        if rule.fallback and rule.field in local.values:
            continue
        if rule.needs is not None and rule.needs not in local.values:
            continue
        for m in list(rule.pattern.finditer(text)):
            local.add(rule.field, rule.value(m))
            local.rules.append(rule.name)
            if rule.name == "ring_depth":
                local.add("depth", m.group("d"))
        if rule.consume:
            text = rule.pattern.sub(lambda m: " " * len(m.group(0)), text)
    for name, values in local.values.items():
        for value in values:
            found.add(name, value)
    found.rules.extend(local.rules)


def _one(values: list[object] | None) -> tuple[object, bool]:
    """The single value written, and whether the field conflicts (several values or invalid)."""
    if not values:
        return None, False
    distinct = {v for v in values if v is not _INVALID}
    if any(v is _INVALID for v in values) or len(distinct) != 1:
        return None, True
    return distinct.pop(), False


def _clock_int(hours: float) -> int:
    whole = math.floor(hours + 0.5)
    return (whole - 1) % 12 + 1


def parse_annotation(text: str, *, source: str = "text") -> UsLocation:
    """Read the location written in annotation text (one or more lines).

    Parameters
    ----------
    text:
        The annotation, e.g. "RT BREAST 10:00 3 CM FN" or OCR lines joined by newlines. Rules
        never cross a line break; fields found on different lines are merged.
    source:
        Recorded in :attr:`UsLocation.source`.

    Returns
    -------
    UsLocation
        Each field read once, or ``None``; fields written with different values are ``None`` and
        named in ``conflicts``.
    """
    found = _Found()
    for raw_line in text.splitlines():
        line = normalise(raw_line)
        if line:
            _read_line(line, found)
    conflicts: list[str] = []
    fields: dict[str, object] = {}
    for name in ("laterality", "clock", "distance", "ring", "region", "plane", "depth"):
        value, conflict = _one(found.values.get(name))
        fields[name] = value
        if conflict:
            conflicts.append(name)
    hours = fields["clock"]
    location = UsLocation(
        laterality=_str(fields["laterality"]),
        clock=_clock_int(hours) if isinstance(hours, float) else None,
        clock_hours=hours if isinstance(hours, float) else None,
        distance_from_nipple_mm=_float(fields["distance"]),
        ring=fields["ring"] if isinstance(fields["ring"], int) else None,
        region=_str(fields["region"]),
        plane=_str(fields["plane"]),
        depth=_str(fields["depth"]),
        source=source,
        raw=text,
        conflicts=tuple(conflicts),
    )
    LOGGER.debug("annotation rules %s, conflicts %s", found.rules, conflicts)
    return location


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _float(value: object) -> float | None:
    return round(value, 3) if isinstance(value, float) else None


def parse_structured(laterality: str | None, text: str | None = None) -> UsLocation:
    """Location from structured fields: the DICOM side plus a free text.

    Parameters
    ----------
    laterality:
        Image Laterality (0020,0062) or Laterality (0020,0060): ``"L"``, ``"R"`` (``"B"``/``"U"``/
        empty give no side).
    text:
        A structured free text that carries the location, e.g. Image Comments (0020,4000);
        parsed with :func:`parse_annotation`.

    Returns
    -------
    UsLocation
        ``source="structured"``. A side in the text that differs from the DICOM side makes the
        side unknown (``conflicts`` names it).
    """
    parsed = parse_annotation(text or "", source="structured")
    side = (laterality or "").strip().upper()
    side_value = side if side in ("L", "R") else None
    conflicts = list(parsed.conflicts)
    final = parsed.laterality
    if side_value is not None:
        if parsed.laterality is None and "laterality" not in conflicts:
            final = side_value
        elif parsed.laterality != side_value:
            final = None
            if "laterality" not in conflicts:
                conflicts.append("laterality")
    return UsLocation(
        laterality=final,
        clock=parsed.clock,
        clock_hours=parsed.clock_hours,
        distance_from_nipple_mm=parsed.distance_from_nipple_mm,
        ring=parsed.ring,
        region=parsed.region,
        plane=parsed.plane,
        depth=parsed.depth,
        source="structured",
        raw=text or "",
        conflicts=tuple(conflicts),
    )
