"""Sectra URL access strings: the plaintext query string a Sectra URL launch carries.

Written after the format of Sectra's public URL Launch SDK (``sectra-medical/SectraUrlLaunchSdk``,
MIT licence): parameter names, their order, escaping and parsing follow
``src/UrlAccessString/QueryString.cs`` and ``QueryStringUtility.cs``; the expected strings of
``test/UrlAccessString.UnitTests/UrlAccessStringTests.Data.cs`` are this module's test vectors.

Escaping is .NET's ``HttpUtility.UrlEncode``: UTF-8, ``A-Z a-z 0-9 - _ . ! * ( )`` kept, space as
``+``, every other byte as ``%xx`` in *lower-case* hex (``AccGroup,Req1`` -> ``AccGroup%2cReq1``).
List values (accession numbers, examination ids, IDS7 commands) escape each item and join them
with an unescaped ``^``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import TypeVar
from urllib.parse import unquote_plus

from breastgate.integrations.sectra.errors import LaunchParameterError

__all__ = [
    "IDS7_OPEN_IPV_WINDOW",
    "Ids7WindowManagement",
    "LaunchParameters",
    "LoginType",
    "OrderManagementCommand",
    "StartupPresentation",
    "UniViewCommand",
    "UniViewLayout",
    "dotnet_url_encode",
    "parse_query_string",
    "to_query_string",
    "validate_example",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_URL_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!*()")
_IGNORED = frozenset({"key", "close_popup", "client"})  # QueryString.cs: never parsed
_EMPTY_GUID = "null"  # StartupPresentationData.EmptyGuidString
_INTEGER = re.compile(r"\s*[+-]?[0-9]+\s*")  # what .NET int.TryParse accepts

_E = TypeVar("_E", bound=StrEnum)

#: The named IDS7 command ``Ids7CommandEnum.OpenIpvWindow`` (``ids7_cmds=open_ipv_window``).
IDS7_OPEN_IPV_WINDOW = "open_ipv_window"


class LoginType(StrEnum):
    """``login_type`` (``Parameters.LoginTypeEnum``)."""

    URL = "url"
    SSO = "sso"


class UniViewCommand(StrEnum):
    """``uniview_cmd`` (``Parameters.UniViewCommandEnum``; ``None`` is not written)."""

    SHOW_IMAGES = "show_images"


class UniViewLayout(StrEnum):
    """``uv_layout`` (``Parameters.UniViewLayoutEnum``; ``DEFAULT`` is not written)."""

    DEFAULT = "default"
    IMAGE_AND_TOOLBAR = "image_and_toolbar"


class Ids7WindowManagement(StrEnum):
    """``ids7_window_management`` (``Parameters.Ids7WindowManagementEnum``)."""

    IMAGE_WINDOW = "image_window"
    INFORMATION_WINDOW = "information_window"
    KEEP_IN_BACKGROUND = "keep_in_background"


class OrderManagementCommand(StrEnum):
    """``cmd`` (``Parameters.OrderManagementCommandEnum``): parsed by the SDK, never written by it."""

    CREATE_REQUEST = "create_request"
    SCHEDULE_REQUEST_EXAMINATIONS = "schedule_request"
    OPEN_REFERRING_UNIT_OVERVIEW = "scheduler_overview"
    SEARCH_PATIENT = "search_patient"
    ORDER_OVERVIEW = "order_overview"


@dataclass(frozen=True)
class StartupPresentation:
    """``sp``: thumbnail startup presentation; a ``None`` GUID is .NET's ``Guid.Empty`` (``null``)."""

    display_unit_guid: uuid.UUID | None
    database_guid: uuid.UUID | None
    base_rp_cookie: str


@dataclass(frozen=True)
class LaunchParameters:
    """The parameters of a Sectra URL access string (``Parameters.cs``), ``None`` = not given.

    Names are the SDK's in snake_case; the wire name is in each comment. ``frame_number`` is
    1-based, as in DICOM (``OneBasedFrameNumber``).
    """

    patient_id: str | None = None  # pat_id
    accession_numbers: tuple[str, ...] = ()  # acc_no
    examination_ids: tuple[str, ...] = ()  # exam_id
    mrn_integration_id: str | None = None  # mrn_integration_id (issuer of patient id)
    accession_number_group: str | None = None  # acc_no_integration_id
    application_id: str | None = None  # application_id
    assignment_id: str | None = None  # assignment_id
    care_unit_id_issuer: str | None = None  # care_unit_id_issuer
    care_unit_id: str | None = None  # care_unit_id
    user_id: str | None = None  # user_id
    stop: bool | None = None  # stop
    sop_instance_uid: str | None = None  # sop_uid
    frame_number: int | None = None  # frame_number
    uniview_command: UniViewCommand | None = None  # uniview_cmd
    ids7_commands: tuple[str, ...] = ()  # ids7_cmds (command GUIDs or names)
    uniview_layout: UniViewLayout | None = None  # uv_layout
    pathology_command: str | None = None  # pathology_cmd
    allow_patient_change: bool | None = None  # allow_pat_change
    promote_extended_patient_search_servers: bool | None = None
    limited_access: bool | None = None  # limited_access
    autoselect_last_assignment: bool | None = None
    login_type: LoginType | None = None  # login_type
    startup_presentation: StartupPresentation | None = None  # sp
    patient_name: str | None = None  # pat_name (DICOM PN)
    patient_birthdate: date | None = None  # pat_birth (YYYYMMDD)
    patient_sex: str | None = None  # pat_sex
    referring_unit: str | None = None  # ref_unit
    his_id: str | None = None  # his_id
    initialize: bool | None = None  # init
    ids7_window_management: Ids7WindowManagement | None = None
    ids7_workspace: str | None = None  # ids7_workspace
    nd_bookmark: str | None = None  # nd_bookmark (3D bookmark)
    use_search_servers_from_worklist: str | None = None
    promote_server_to_query: str | None = None
    time: datetime | None = None  # time (whole seconds since 1970, UTC)
    close_popup: bool | None = None  # close_popup (written last, never parsed)
    order_management_command: OrderManagementCommand | None = None  # cmd (parse only)


def dotnet_url_encode(text: str, *, upper: bool = False) -> str:
    """.NET ``HttpUtility.UrlEncode`` (lower-case hex) or, with *upper*, ``WebUtility.UrlEncode``."""
    out: list[str] = []
    for byte in text.encode("utf-8"):
        if byte in _URL_SAFE:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}" if upper else f"%{byte:02x}")
    return "".join(out)


def _seconds(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise LaunchParameterError("time must be timezone-aware (UTC)")
    return int((moment - _EPOCH).total_seconds())  # QueryStringUtility.TimeToSeconds truncates


def _list(items: tuple[str, ...], name: str) -> str:
    for item in items:
        if "^" in item:
            raise LaunchParameterError(f"{name}: an item contains '^', the list separator")
    return "^".join(dotnet_url_encode(item) for item in items)


def _check_written(p: LaunchParameters) -> None:
    """Write strictly: refuse what the SDK's own parser would refuse."""
    if p.frame_number is not None and p.frame_number < 1:
        raise LaunchParameterError("frame_number is 1-based and must be >= 1")
    if p.patient_name and not _is_person_name(p.patient_name):
        raise LaunchParameterError("patient_name is not a DICOM person name")
    if p.patient_sex and _patient_sex(p.patient_sex) is None:
        raise LaunchParameterError("patient_sex must be M, F, O or EMPTY")
    if p.referring_unit and not _is_long_string(p.referring_unit):
        raise LaunchParameterError("referring_unit is not a DICOM long string")
    if p.order_management_command is not None:
        raise LaunchParameterError("the SDK's encoder never writes 'cmd' (order management)")


def to_query_string(params: LaunchParameters) -> str:
    """Build the access string exactly as ``QueryString.GetQueryString`` does (same order).

    Raises
    ------
    LaunchParameterError
        A value the SDK's parser would reject (frame < 1, invalid PN ...), or a list item with ``^``.
    """
    p = params
    _check_written(p)
    e = dotnet_url_encode
    out: list[str] = []

    def add(name: str, value: str | None, *, escape: bool = True) -> None:
        if value:  # null or empty strings are left out
            out.append(f"{name}={e(value) if escape else value}")

    add("pat_id", p.patient_id)
    add("acc_no", _list(p.accession_numbers, "accession_numbers"), escape=False)
    add("exam_id", _list(p.examination_ids, "examination_ids"), escape=False)
    add("mrn_integration_id", p.mrn_integration_id)
    add("acc_no_integration_id", p.accession_number_group)
    add("application_id", p.application_id)
    add("assignment_id", p.assignment_id)
    add("care_unit_id_issuer", p.care_unit_id_issuer)
    add("care_unit_id", p.care_unit_id)
    add("user_id", p.user_id)
    add("stop", "1" if p.stop else None)
    add("sop_uid", p.sop_instance_uid)
    add("frame_number", None if p.frame_number is None else str(p.frame_number))
    add("uniview_cmd", p.uniview_command.value if p.uniview_command else None)
    add("ids7_cmds", _list(p.ids7_commands, "ids7_commands"), escape=False)
    layout = p.uniview_layout
    add("uv_layout", layout.value if layout and layout is not UniViewLayout.DEFAULT else None)
    add("pathology_cmd", p.pathology_command)
    add("allow_pat_change", "0" if p.allow_patient_change is False else None)
    add("promote_extended_patient_search_servers", "1" if p.promote_extended_patient_search_servers else None)
    add("limited_access", "1" if p.limited_access else None)
    add("autoselect_last_assignment", "1" if p.autoselect_last_assignment else None)
    add("login_type", p.login_type.value if p.login_type else None)
    if p.startup_presentation is not None:
        sp = p.startup_presentation
        guids = [
            _EMPTY_GUID if g is None or g.int == 0 else str(g)
            for g in (sp.display_unit_guid, sp.database_guid)
        ]
        out.append("sp=" + "^".join(e(v) for v in [*guids, sp.base_rp_cookie]))
    add("pat_name", p.patient_name)
    add("pat_birth", p.patient_birthdate.strftime("%Y%m%d") if p.patient_birthdate else None)
    add("pat_sex", p.patient_sex)
    add("ref_unit", p.referring_unit)
    add("his_id", p.his_id)
    add("init", "1" if p.initialize else None)
    add("ids7_window_management", p.ids7_window_management.value if p.ids7_window_management else None)
    add("ids7_workspace", p.ids7_workspace)
    add("nd_bookmark", p.nd_bookmark)
    add("use_search_servers_from_worklist", p.use_search_servers_from_worklist)
    add("promote_server_to_query", p.promote_server_to_query)
    add("time", None if p.time is None else str(_seconds(p.time)))
    add("close_popup", "1" if p.close_popup else None)  # last: "not included in the hash"
    return "&".join(out)


# --- parsing ------------------------------------------------------------------------------------


def _is_plain(text: str) -> bool:
    return "\\" not in text and not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)


def _is_person_name(text: str) -> bool:
    return len(text) <= 64 and _is_plain(text) and len(text.split("^")) <= 5


def _is_long_string(text: str) -> bool:
    return len(text) <= 64 and _is_plain(text)


def _patient_sex(text: str) -> str | None:
    value = text.lower()
    for code, spellings in (
        ("M", ("m", "male", "man")),
        ("F", ("f", "female", "woman", "k", "kvinna")),
        ("O", ("o", "other")),
        ("EMPTY", ("empty",)),
    ):
        if value in spellings:
            return code
    return None


def _birthdate(text: str) -> date:
    digits = "".join(c for c in text if c not in "-/ ")
    if len(digits) != 8 or not digits.isdigit():
        raise LaunchParameterError(f"pat_birth {text!r} is not a DICOM date (YYYYMMDD)")
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError as exc:
        raise LaunchParameterError(f"pat_birth {text!r} is not a valid date") from exc


def _enum(kind: type[_E], value: str, name: str) -> _E:
    try:
        return kind(value.lower())
    except ValueError as exc:
        raise LaunchParameterError(f"unknown {name} value {value!r}") from exc


def _frame(value: str) -> int:
    if not _INTEGER.fullmatch(value) or int(value) < 1:
        raise LaunchParameterError(f"frame_number {value!r} is not an integer >= 1")
    return int(value)


def _guid(value: str) -> uuid.UUID | None:
    if value == _EMPTY_GUID:
        return None
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise LaunchParameterError(f"sp: {value!r} is not a GUID") from exc


def _startup(value: str) -> StartupPresentation:
    parts = unquote_plus(value).split("^")
    if len(parts) != 3:
        raise LaunchParameterError("sp must be <display unit guid>^<database guid>^<base rp cookie>")
    return StartupPresentation(_guid(parts[0]), _guid(parts[1]), parts[2])


def _time(value: str) -> datetime:
    try:
        return _EPOCH + timedelta(seconds=int(value))
    except (ValueError, OverflowError) as exc:
        raise LaunchParameterError(f"time {value!r} is not whole seconds since 1970") from exc


def _order_management(value: str) -> OrderManagementCommand:
    return (
        OrderManagementCommand.CREATE_REQUEST if value == "" else _enum(OrderManagementCommand, value, "cmd")
    )


def _checked(check: Callable[[str], bool], name: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        text = unquote_plus(value)
        if not check(text):
            raise LaunchParameterError(f"{name} {text!r} is not valid")
        return text

    return parse


def _sex(value: str) -> str:
    code = _patient_sex(unquote_plus(value))
    if code is None:
        raise LaunchParameterError("pat_sex must be EMPTY, M, F or O")
    return code


def _items(value: str) -> tuple[str, ...]:
    return tuple(unquote_plus(value).split("^"))


def _set(value: str) -> bool | None:  # stop, init: anything but "0" sets them
    return True if value != "0" else None


_PARSERS: dict[str, tuple[str, Callable[[str], object]]] = {
    "user_id": ("user_id", unquote_plus),
    "time": ("time", _time),
    "login_type": ("login_type", lambda v: _enum(LoginType, unquote_plus(v), "login_type")),
    "pat_id": ("patient_id", unquote_plus),
    "mrn_group": ("mrn_integration_id", unquote_plus),
    "pat_id_issuer": ("mrn_integration_id", unquote_plus),
    "mrn_integration_id": ("mrn_integration_id", unquote_plus),
    "acc_no": ("accession_numbers", _items),
    "acc_no_group": ("accession_number_group", unquote_plus),
    "acc_no_integration_id": ("accession_number_group", unquote_plus),
    "exam_id": ("examination_ids", _items),
    "sop_uid": ("sop_instance_uid", unquote_plus),
    "frame_number": ("frame_number", _frame),
    "sp": ("startup_presentation", _startup),
    "stop": ("stop", _set),
    "init": ("initialize", _set),
    "pat_name": ("patient_name", _checked(_is_person_name, "pat_name")),
    "pat_birth": ("patient_birthdate", lambda v: _birthdate(unquote_plus(v))),
    "pat_sex": ("patient_sex", _sex),
    "ref_unit": ("referring_unit", _checked(_is_long_string, "ref_unit")),
    "his_id": ("his_id", unquote_plus),
    "cmd": ("order_management_command", _order_management),
    "uniview_cmd": ("uniview_command", lambda v: _enum(UniViewCommand, v, "uniview_cmd")),
    "ids7_cmds": ("ids7_commands", _items),
    "ids7_window_management": (
        "ids7_window_management",
        lambda v: _enum(Ids7WindowManagement, v, "ids7_window_management"),
    ),
    "ids7_workspace": ("ids7_workspace", unquote_plus),
    "nd_bookmark": ("nd_bookmark", unquote_plus),
    "uv_layout": ("uniview_layout", lambda v: _enum(UniViewLayout, v, "uv_layout")),
    "pathology_cmd": ("pathology_command", unquote_plus),
    "allow_pat_change": ("allow_patient_change", lambda v: v != "0"),
    "limited_access": ("limited_access", lambda v: v != "0"),
    "autoselect_last_assignment": ("autoselect_last_assignment", lambda v: v != "0"),
    "assignment_id": ("assignment_id", unquote_plus),
    "care_provider_id": ("care_unit_id_issuer", unquote_plus),
    "care_unit_id_issuer": ("care_unit_id_issuer", unquote_plus),
    "care_unit_id": ("care_unit_id", unquote_plus),
    "application_id": ("application_id", unquote_plus),
    "use_search_servers_from_worklist": ("use_search_servers_from_worklist", unquote_plus),
    "promote_extended_patient_search_servers": (
        "promote_extended_patient_search_servers",
        lambda v: v != "0",
    ),
    "promote_server_to_query": ("promote_server_to_query", unquote_plus),
}


def _parse(access_string: str) -> LaunchParameters:
    values: dict[str, object] = {}
    if access_string:
        for arg in access_string.split("&"):
            pair = arg.split("=")
            if len(pair) != 2:
                raise LaunchParameterError(f"invalid query syntax near {arg[:40]!r}")
            name, value = pair
            if name in _IGNORED:
                continue
            if name not in _PARSERS:
                raise LaunchParameterError(f"unknown parameter {name!r}")
            target, parse = _PARSERS[name]
            values[target] = parse(value)
    if values.get("limited_access") is True:
        values["allow_patient_change"] = False  # limited access implies no patient change
    return LaunchParameters(**values)  # type: ignore[arg-type]


def parse_query_string(access_string: str) -> LaunchParameters:
    """Parse an access string as ``QueryString.Parse`` does.

    Like the SDK, a string that fails to parse is URL-decoded once and parsed again (launchers
    that pass ``a%3db`` for ``a=b``). Unknown parameters are refused; ``key``, ``client`` and
    ``close_popup`` are skipped.

    Raises
    ------
    LaunchParameterError
        The string cannot be parsed, even once decoded.
    """
    try:
        return _parse(access_string)
    except LaunchParameterError:
        return _parse(unquote_plus(access_string))


def validate_example(params: LaunchParameters) -> None:
    """The SDK's *example* validation (``QueryString.Validate``); real rules depend on the product.

    Raises
    ------
    LaunchParameterError
        Accession numbers without a patient id; a SOP Instance UID without exactly one accession
        number and one examination id; unpaired examination ids; order management or UniView
        commands without the parameters they need.
    """
    p = params
    if p.stop:
        return
    if p.patient_id is None and p.accession_numbers:
        raise LaunchParameterError("a patient id must be given with accession numbers")
    if p.sop_instance_uid is not None and (len(p.examination_ids) != 1 or len(p.accession_numbers) != 1):
        raise LaunchParameterError("a SOP Instance UID needs exactly one accession number and examination id")
    if p.examination_ids and p.accession_numbers and len(p.examination_ids) != len(p.accession_numbers):
        raise LaunchParameterError("examination ids must pair with accession numbers")
    command = p.order_management_command
    if command in (OrderManagementCommand.CREATE_REQUEST, OrderManagementCommand.SEARCH_PATIENT):
        if not p.patient_id:
            raise LaunchParameterError(f"cmd={command.value} needs pat_id")
    elif command is OrderManagementCommand.SCHEDULE_REQUEST_EXAMINATIONS and not p.accession_numbers:
        raise LaunchParameterError("cmd=schedule_request needs an accession number")
    elif command is OrderManagementCommand.OPEN_REFERRING_UNIT_OVERVIEW and not p.referring_unit:
        raise LaunchParameterError("cmd=scheduler_overview needs ref_unit")
    if p.uniview_command is UniViewCommand.SHOW_IMAGES and not p.patient_id:
        raise LaunchParameterError("uniview_cmd=show_images needs pat_id")
