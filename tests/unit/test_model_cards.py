"""Every built-in algorithm has a model card for its version, and its results name that card."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from pydicom import Dataset

from breastgate.domain.model import AlgorithmManifest
from breastgate.results.json import build_results
from breastgate.results.mammo_cad_sr import MammographyCADSR
from tests.support.mg_headers import density_manifest, density_result, four_view_study

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = (
    "## Intended use",
    "## Inputs",
    "## How it works",
    "## Data it was fitted and measured on",
    "## Figures",
    "## Known failure modes",
    "## Not for diagnostic use",
)


def _builtins() -> list[AlgorithmManifest]:
    return [ep.load()().manifest for ep in entry_points(group="breastgate.algorithms")]


@pytest.mark.parametrize("manifest", _builtins(), ids=lambda m: m.id)
def test_each_builtin_names_a_card_for_its_version(manifest: AlgorithmManifest) -> None:
    path, _, card_version = manifest.model_card.partition("@")
    assert path == f"docs/algorithms/{manifest.id}.md" and card_version
    text = (ROOT / path).read_text(encoding="utf-8")
    assert re.search(rf"\| Card version \| {re.escape(card_version)} \|", text)
    assert re.search(rf"\| Algorithm version \| {re.escape(manifest.version)} \|", text)
    for section in SECTIONS:
        assert section in text, f"{path} lacks {section}"
    assert "Not for diagnostic use unless validated on site" in text


def test_the_cad_sr_and_the_results_json_name_the_card() -> None:
    headers = four_view_study()
    manifest = replace(density_manifest(), model_card="docs/algorithms/breastgate.density.md@9.9")
    result = replace(density_result(headers), model_card=manifest.model_card)
    sr = MammographyCADSR.from_result(result, manifest, headers)
    texts = [str(item.TextValue) for item in _walk(sr.dataset) if "TextValue" in item]
    assert "model_card=docs/algorithms/breastgate.density.md@9.9" in texts
    document = build_results(result.study_instance_uid, [result])
    assert document["algorithms"][0]["model_card"] == "docs/algorithms/breastgate.density.md@9.9"


def _walk(dataset: Dataset) -> Iterator[Dataset]:
    for item in dataset.get("ContentSequence", []):
        yield item
        yield from _walk(item)
