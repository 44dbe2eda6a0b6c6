"""Types shared by the response models."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, WithJsonSchema

#: A JSON number as the route computed it: an int stays an int, a float a float (a ``float``
#: field would turn ``3`` into ``3.0``).
Number = Annotated[int | float, WithJsonSchema({"type": "number"})]

#: An ISO 8601 date-time, kept as the text the route wrote (a ``datetime`` field would rewrite
#: ``+00:00`` as ``Z``).
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]

#: Viewer name (``ids7``, ``uniview``) → URL of breastgate's launch endpoint for it.
LaunchLinks = dict[str, str]


class Schema(BaseModel):
    """A closed response shape: every key the route writes is a field."""

    model_config = ConfigDict(frozen=True)


class OpenSchema(BaseModel):
    """A shape open by contract: keys beyond the fields are kept as they are (DESIGN §4: "Add
    fields freely")."""

    model_config = ConfigDict(frozen=True, extra="allow")
