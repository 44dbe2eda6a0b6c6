"""``build_outputs`` for a DCE-MRI result: the MRI objects from stored files, each valid (dciodvfy)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from breastgate.algorithms.base import Selection
from breastgate.domain.governance import Mode
from breastgate.domain.model import AlgorithmManifest, AlgorithmResult, DicomNode, InstanceRef, StudyRef
from breastgate.domain.outputs import DEFAULT_PACS_OBJECTS, OutputKind, parse_pacs_objects
from breastgate.governance.modes import ModeBook
from breastgate.pipeline.analysis import build_outputs
from breastgate.pipeline.mri_outputs import SliceReader
from breastgate.pipeline.objects import OutputObject
from breastgate.pipeline.publish.base import ResultFiles
from breastgate.pipeline.publish.pacs import PacsPublisher
from breastgate.results.kinetic_map import KineticColourMap
from breastgate.results.kos import KeyObjectSelectionDocument
from breastgate.results.mri_grid import SourceGrid, find_volume
from breastgate.store import outbox
from breastgate.store.blobs import BlobStore
from breastgate.store.db import Database
from tests.support.db import upgrade
from tests.support.mr_sources import enhanced_mr, kinetics_result, manifest, mr_series
from tests.support.validators import dciodvfy


class _Fixed:
    """An algorithm whose result is given (build_outputs reads only its manifest)."""

    def __init__(self, result: AlgorithmResult) -> None:
        self.manifest: AlgorithmManifest = manifest()
        self.result = result

    def is_available(self) -> tuple[bool, str]:
        return True, ""

    def select(self, study: StudyRef) -> Selection:
        return Selection(study, study.instances)

    def run(self, selection: Selection) -> AlgorithmResult:
        return self.result


def _study(sources: list[Dataset], folder: Path) -> StudyRef:
    refs = []
    for i, ds in enumerate(sources):
        path = folder / f"{i}.dcm"
        ds.save_as(path, enforce_file_format=True)
        refs.append(
            InstanceRef(
                ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.SOPClassUID, "MR", str(path)
            )
        )
    return StudyRef(str(sources[0].StudyInstanceUID), tuple(refs))


@pytest.mark.parametrize("kind", ["classic", "enhanced"])
def test_an_mri_result_yields_map_pmap_seg_tid1500_and_kos(kind: str, tmp_path: Path) -> None:
    series = mr_series()
    sources = series if kind == "classic" else [enhanced_mr(series)]
    study = _study(sources, tmp_path)
    result = kinetics_result(sources)
    outputs = build_outputs(study, _Fixed(result), result)
    kinds = [o.kind for o in outputs]
    assert kinds == [
        OutputKind.KINETIC_MAP,
        OutputKind.PARAMETRIC_MAP,
        OutputKind.SEG,
        OutputKind.TID1500,
        OutputKind.KOS,
    ]
    for output in outputs:
        path = tmp_path / f"out-{output.kind}.dcm"
        output.dataset.save_as(path, enforce_file_format=True)
        report = dciodvfy(path)
        assert report.ok, f"{output.kind}: {report.output}"
        written = pydicom.dcmread(path)
        assert written.StudyInstanceUID == study.study_instance_uid
        assert written.PatientID == "BG-TEST-MR"
    series_numbers = {o.kind: int(o.dataset.SeriesNumber) for o in outputs}
    assert series_numbers == {"kinetic-map": 9907, "pmap": 9909, "seg": 9908, "tid1500": 9906, "kos": 9905}
    kos = KeyObjectSelectionDocument.from_dataset(outputs[-1].dataset)
    marked = {(m.sop_instance_uid, m.frame) for f in result.findings for m in f.marks}
    flagged = {(uid, frame) for uid, frames in kos.images for frame in (frames or (None,))}
    assert flagged == marked  # the central slice (frame of an Enhanced MR) of each lesion
    again = build_outputs(study, _Fixed(result), result)
    assert [o.sop_instance_uid for o in again] == [o.sop_instance_uid for o in outputs]
    assert {OutputKind.KINETIC_MAP, OutputKind.SEG, OutputKind.PARAMETRIC_MAP} <= DEFAULT_PACS_OBJECTS
    assert OutputKind.TID1500 not in DEFAULT_PACS_OBJECTS  # built, delivered on request


def test_without_a_lesion_only_the_maps_are_built(tmp_path: Path) -> None:
    series = mr_series()
    study = _study(series, tmp_path)
    full = kinetics_result(series)
    no_labels = tuple(v for v in full.volumes if v.name != "lesion_labels")
    result = replace(full, findings=(), volumes=no_labels)
    outputs = build_outputs(study, _Fixed(result), result)
    assert [o.kind for o in outputs] == [OutputKind.KINETIC_MAP, OutputKind.PARAMETRIC_MAP]


def test_the_slice_reader_gives_the_stored_frames(tmp_path: Path) -> None:
    series = mr_series()
    multi = enhanced_mr(series)
    study = _study([multi], tmp_path)
    result = kinetics_result([multi])
    grid = SourceGrid.of(find_volume(result, "kinetic_class"), [multi])
    reader = SliceReader(grid, {r.sop_instance_uid: r.path for r in study.instances})
    frames = multi.pixel_array
    assert len(reader) == 12
    np.testing.assert_array_equal(reader[7], frames[7].astype(np.float32))
    kmap = KineticColourMap(result, manifest(), [multi], reader)
    assert kmap.render().shape == (12, 256, 256, 3)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[StudyRef, AlgorithmResult, list[OutputObject]]:
    """A classic-series study on disk, its kinetics result and the objects built for it."""
    series = mr_series()
    study = _study(series, tmp_path_factory.mktemp("mr"))
    result = kinetics_result(series)
    return study, result, build_outputs(study, _Fixed(result), result)


@pytest.mark.parametrize(
    ("mode", "switches", "owed"),
    [
        (Mode.ASSISTIVE, "", {}),  # like the CAD SR: PACS objects need integrated
        (
            Mode.INTEGRATED,
            "",
            {"A": {"kinetic-map", "pmap", "seg", "kos"}, "B": {"kinetic-map", "pmap", "seg", "kos"}},
        ),
        (
            Mode.INTEGRATED,
            "B=tid1500,seg",
            {"A": {"kinetic-map", "pmap", "seg", "kos"}, "B": {"tid1500", "seg"}},
        ),
    ],
)
def test_the_pacs_gets_the_mri_objects_by_mode_and_node_kinds(
    mode: Mode,
    switches: str,
    owed: dict[str, set[str]],
    built: tuple[StudyRef, AlgorithmResult, list[OutputObject]],
    tmp_path: Path,
) -> None:
    study, result, outputs = built
    nodes = [DicomNode.parse("A@127.0.0.1:104"), DicomNode.parse("B@127.0.0.1:105")]
    files = ResultFiles(BlobStore(tmp_path / "blobs"), tmp_path / "results")
    publisher = PacsPublisher(files, nodes, parse_pacs_objects(switches, nodes))
    assert {"kinetic-map", "seg", "pmap"} <= publisher.built_kinds
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    upgrade(url)
    db = Database(url)
    paths = [files.dicom(study.study_instance_uid, o) for o in outputs]
    kind_of = {o.sop_instance_uid: o.kind for o in outputs}
    with db.session() as session:
        publisher.publish_result(session, result, outputs, paths, ModeBook.everywhere(mode))
    with db.session() as session:
        rows = outbox.list_items(session, study=study.study_instance_uid)
    db.dispose()
    got: dict[str, set[str]] = {}
    for row in rows:
        got.setdefault(DicomNode.parse(row.destination).ae_title, set()).add(kind_of[row.sop_instance_uid])
    assert got == owed
