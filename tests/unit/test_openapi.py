"""The OpenAPI document names the response models: the results JSON (DESIGN §4) with its finding
and mark models, and a response schema for every JSON route (UPS-RS answers DICOM JSON)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from breastgate.domain.model import FindingKind
from breastgate.store.db import Database
from breastgate.web.api.deps import AppContext
from breastgate.web.app import create_app

#: Routes without a JSON response model, and why.
UNTYPED = {
    "/dicomweb/": "DICOM JSON and multipart/related answers (PS3.18 QIDO-RS, WADO-RS, STOW-RS)",
    "/ups-rs/": "DICOM JSON (application/dicom+json, PS3.18 F.2) or empty 204/201/202 answers",
    "/api/worklist/events": "server-sent events (text/event-stream)",
}
#: DESIGN §4 results JSON fields (``[]``: an array's items).
DESIGN_FIELDS = (
    "schema", "study_instance_uid",
    "algorithms[].id", "algorithms[].version", "algorithms[].status", "algorithms[].message",
    "density.category", "density.percent_dense", "density.per_breast",
    "findings[].id", "findings[].kind", "findings[].laterality", "findings[].score", "findings[].size_mm",
    "findings[].location.clock", "findings[].location.quadrant", "findings[].location.depth",
    "findings[].location.distance_from_nipple_mm", "findings[].location.patient_mm",
    "findings[].marks[].sop_instance_uid", "findings[].marks[].frame", "findings[].marks[].view",
    "findings[].marks[].point", "findings[].marks[].bbox", "findings[].marks[].outline",
    "findings[].kinetics.initial_phase", "findings[].kinetics.delayed_phase",
    "findings[].kinetics.curve_type",
    "findings[].comparison.prior_study_instance_uid", "findings[].comparison.change",
    "findings[].comparison.size_change_mm", "findings[].correlated_with",
    "assessment.suspicion_score", "assessment.birads", "assessment.recommendation",
    "triage.priority", "triage.score", "triage.flags",
    "quality.verdict", "quality.checks",
    "risk.model", "risk.five_year_pct", "risk.lifetime_pct",
)  # fmt: skip
#: Fields the code adds (results/json.py, the route).
ADDED_FIELDS = (
    "label", "images[].sop_instance_uid", "images[].measurements", "risk.algorithm",
    "findings[].algorithm", "findings[].shown", "findings[].feedback.action", "findings[].feedback_history",
    "findings[].launch", "launch", "governance.hidden", "governance.modes", "generated_by",
)  # fmt: skip


@pytest.fixture(scope="module")
def openapi() -> Iterator[dict[str, Any]]:
    db = Database("sqlite://")  # the document is made without touching the database
    context = AppContext(db=db, version="t", ae_title="BG", dicom_port=None, workers_in_process=False)
    yield create_app(context).openapi()
    db.dispose()


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` and take the non-null member of ``anyOf``."""
    while True:
        if "$ref" in schema:
            schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        elif "anyOf" in schema:
            (schema,) = [s for s in schema["anyOf"] if s.get("type") != "null"]
        else:
            return schema


def _field(doc: dict[str, Any], schema: dict[str, Any], dotted: str) -> dict[str, Any]:
    for part in dotted.split("."):
        name, many = part.removesuffix("[]"), part.endswith("[]")
        schema = _resolve(doc, _resolve(doc, schema)["properties"][name])
        if many:
            schema = _resolve(doc, schema["items"])
    return schema


def _json_schema(operation: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema of the operation's first success answer."""
    for status in sorted(operation["responses"]):
        if status.startswith("2"):
            return operation["responses"][status].get("content", {}).get("application/json", {}).get("schema")
    return None


def test_results_schema_names_its_finding_and_mark_models(openapi: dict[str, Any]) -> None:
    operation = openapi["paths"]["/api/studies/{study_instance_uid}/results"]["get"]
    assert _json_schema(operation) == {"$ref": "#/components/schemas/ResultsDocument"}
    schemas = openapi["components"]["schemas"]
    for name in (
        "ResultsDocument",
        "Finding",
        "Mark",
        "FindingLocation",
        "Density",
        "TriageDecision",
        "Quality",
    ):
        assert name in schemas, name
    findings = schemas["ResultsDocument"]["properties"]["findings"]
    assert findings["items"] == {"$ref": "#/components/schemas/Finding"}
    assert schemas["Finding"]["properties"]["marks"]["items"] == {"$ref": "#/components/schemas/Mark"}
    kind = _field(openapi, schemas["ResultsDocument"], "findings[].kind")
    assert sorted(kind["enum"]) == sorted(k.value for k in FindingKind)
    assert _field(openapi, schemas["ResultsDocument"], "schema")["const"] == "breastgate.results/1"


@pytest.mark.parametrize("dotted", DESIGN_FIELDS + ADDED_FIELDS)
def test_every_results_field_is_in_the_schema(openapi: dict[str, Any], dotted: str) -> None:
    assert _field(openapi, openapi["components"]["schemas"]["ResultsDocument"], dotted) is not None


def test_optional_keys_are_not_required(openapi: dict[str, Any]) -> None:
    """Keys a document may lack (DESIGN §4 "optional", or added only when configured)."""
    schemas = openapi["components"]["schemas"]
    assert {"kinetics", "comparison", "correlated_with", "feedback", "feedback_history", "launch"}.isdisjoint(
        schemas["Finding"]["required"]
    )
    assert {"launch", "governance", "generated_by"}.isdisjoint(schemas["ResultsDocument"]["required"])
    assert {"id", "kind", "laterality", "score", "marks"} <= set(schemas["Finding"]["required"])


def test_every_json_route_has_a_named_response_schema(openapi: dict[str, Any]) -> None:
    untyped = []
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            if {s for s in operation["responses"] if s.startswith("2")} <= {"204"}:
                continue  # no content (204) or a redirect only (the sign-in flow's 302): nothing to type
            schema = _json_schema(operation)
            if schema is None or "$ref" not in schema:
                untyped.append(f"{method.upper()} {path}")
    assert untyped, "expected the UPS-RS routes here"
    assert [u for u in untyped if not any(u.split(" ", 1)[1].startswith(p) for p in UNTYPED)] == []
    assert any(p.startswith("/api/") for p in openapi["paths"])


def test_schema_names_are_unique_and_plain(openapi: dict[str, Any]) -> None:
    """Two models of one name get suffixed or module-qualified names: keep them distinct."""
    names = list(openapi["components"]["schemas"])
    assert [n for n in names if n.endswith(("-Input", "-Output")) or "__" in n] == []


def test_launch_documents_its_json_form_and_its_redirect(openapi: dict[str, Any]) -> None:
    responses = openapi["paths"]["/api/launch/{viewer}"]["get"]["responses"]
    assert responses["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LaunchLink"
    }
    assert "307" in responses
