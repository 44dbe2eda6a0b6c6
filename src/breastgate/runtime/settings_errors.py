"""A settings refusal as one line (DESIGN §4): the setting, the value and the expected form.

pydantic reports every bad setting of a :class:`~pydantic.ValidationError` as a block with a link;
start-up prints :func:`error_line` instead, for instance::

    BG_PACS: not a DICOM node AE@HOST:PORT: 'nonsense'
    BG_DICOM_PORT: 'abc': expected a valid integer, unable to parse string as an integer
    BG_WEBHOOKS: entry 2 is not an http(s) URL with a host
    breastgate.toml: unknown setting 'pac' (did you mean 'pacs'?)
    BG_ENV=production requires BG_ALLOWED_CALLING_AES (the open DICOM port is for embedded use)

Several bad settings give one line each, joined with ``; ``. A secret's value (a field with
``repr=False``), a URL setting's and a webhook's are never shown: they may carry a password or a
token.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from pydantic import ValidationError
from pydantic.fields import FieldInfo

HIDDEN = "(value hidden)"


def env_name(field: str) -> str:
    """The environment variable of a setting: ``pacs`` → ``BG_PACS``."""
    return f"BG_{field.upper()}"


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'X'?)`` for the closest known name, or nothing."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.8)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _hidden(field: str, fields: Mapping[str, FieldInfo]) -> bool:
    info = fields.get(field)
    return info is None or not info.repr or field == "webhooks" or field.endswith("_url")


def _message(error: Mapping[str, Any]) -> str:
    """A validator's own message (without pydantic's "Value error, "), or pydantic's, worded as
    what was expected."""
    cause = error.get("ctx", {}).get("error")
    if error["type"] == "value_error" and cause is not None:
        return str(cause)
    message = str(error["msg"])
    if message.startswith("Input should be "):
        return "expected " + message.removeprefix("Input should be ")
    return message


def _line(
    error: Mapping[str, Any], fields: Mapping[str, FieldInfo], source: str, overrides: Collection[str]
) -> str:
    loc = error["loc"]
    message = _message(error)
    if not loc:  # a model validator: its message names the settings it concerns
        return message
    key = str(loc[0])
    if error["type"] == "extra_forbidden":
        where = "override" if key in overrides else source
        return f"{where}: unknown setting {key!r}{did_you_mean(key, fields)}"
    name = env_name(key) + "".join(f"[{part}]" for part in loc[1:])
    if error["type"] == "value_error":  # our parsers name the entry (or its position) themselves
        return f"{name}: {message}"
    value = HIDDEN if _hidden(key, fields) else repr(error["input"])
    return f"{name}: {value}: {message}"


def error_line(
    error: ValidationError, fields: Mapping[str, FieldInfo], *, source: str, overrides: Collection[str] = ()
) -> str:
    """One line for every error of ``error``: ``fields`` are the settings' fields (which are secret),
    ``source`` names the TOML file and ``overrides`` the keyword arguments given in code, so that an
    unknown key says where it comes from."""
    return "; ".join(_line(e, fields, source, overrides) for e in error.errors(include_url=False))
