"""Summary montage of tomosynthesis studies: volume marks on synthesized views, one finding drawn
once, a volume frame where no 2-D view exists, and what cannot be mapped left undrawn."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageFont
from pydicom.dataset import Dataset

from breastgate.domain.model import AlgorithmResult, AlgorithmStatus, Finding, FindingKind, Mark
from breastgate.phantoms import PhantomStudy, generate_dbt_study
from breastgate.phantoms.dbt import dbt_file_name
from breastgate.phantoms.lesions import LesionRequest
from breastgate.pipeline.summary import summarise
from breastgate.results.gsps import KIND_STYLES
from breastgate.results.summary_sc import SecondaryCaptureSummary, Tile, window
from breastgate.results.summary_tomo import GridMap, frame_header, read_volume
from tests.unit.test_findings import study_ref
from tests.unit.test_results_summary_sc import _edge_hits, _round_trip

SEED, CATEGORY, VENDOR, PIXEL = 21, "b", "profile-b-100um", 0.8  # coarse: about 1 s a study
MASS = LesionRequest("mass", shape="round", size_mm=18.0, contrast=1.0, laterality="R")
BTO = "1.2.840.10008.5.1.4.1.1.13.1.3"
RED = KIND_STYLES[FindingKind.MASS].rgb
ALGO, VERSION = "breastgate.masses", "1.1.0"
Images = list[tuple[Dataset, Any]]


@dataclass(frozen=True)
class Written:
    """A DBT phantom study on disk: synthesized views in memory, volumes as files, mass truth."""

    study: PhantomStudy
    views: Images
    volumes: list[Path]
    truth: dict[str, Any]  # the mass on its R CC volume: sop_instance_uid, bbox, focus_frame...
    synthesized_uid: str  # the R CC synthesized view (empty without synthesized views)


def _write(folder: Path, synthesized: bool) -> Written:
    study = generate_dbt_study(
        SEED, category=CATEGORY, vendor=VENDOR, pixel_mm=PIXEL, lesions=[MASS], synthesized_2d=synthesized
    )
    folder.mkdir(parents=True, exist_ok=True)
    views, volumes = [], []
    for ds in study.datasets:
        if ds.SOPClassUID == BTO:
            path = folder / dbt_file_name(ds)
            ds.save_as(path, enforce_file_format=True)
            volumes.append(path)
        else:
            views.append((ds, ds.pixel_array))
    on_volumes = [v for v in study.truth["lesions"][0]["views"] if v["image"] == "dbt"]
    truth = next(v for v in on_volumes if v["view"] == "CC")
    summary = next(v for v in study.truth["volumes"] if v["sop_instance_uid"] == truth["sop_instance_uid"])
    return Written(study, views, volumes, truth, summary["synthesized_sop_instance_uid"] or "")


@pytest.fixture(scope="module")
def with_views(tmp_path_factory: pytest.TempPathFactory) -> Written:
    return _write(tmp_path_factory.mktemp("dbt-s2d"), synthesized=True)


@pytest.fixture(scope="module")
def volumes_only(tmp_path_factory: pytest.TempPathFactory) -> Written:
    return _write(tmp_path_factory.mktemp("dbt-only"), synthesized=False)


def _volume_finding(truth: dict[str, Any], score: float = 0.65, **kwargs: Any) -> Finding:
    """A mass marked on its R CC volume, on its focus frame, as breastgate.masses marks it."""
    (col, row), (c0, r0, c1, r1) = truth["centre"], truth["bbox"]
    mark = Mark(
        truth["sop_instance_uid"],
        (col, row),
        (c0, r0, c1, r1),
        score,
        "R",
        "CC",
        frame=truth["focus_frame"],
        sop_class_uid=BTO,
    )
    return Finding(kwargs.pop("id", "mass-2"), FindingKind.MASS, "R", score, (mark,), **kwargs)


def _build(images: Images, findings: list[Finding], volumes: list[Path]) -> SecondaryCaptureSummary:
    return SecondaryCaptureSummary(images, findings, None, None, ALGO, VERSION, volumes=volumes)


def _red(pixels: np.ndarray) -> np.ndarray:
    found: np.ndarray = np.all(pixels == RED, axis=2)
    return found


def _mapped(mark: Mark, to_grid: GridMap | None) -> Mark:
    """The mark as drawn on a synthesized view's grid."""
    if to_grid is None:
        return mark
    c0, r0 = to_grid((mark.bbox[0], mark.bbox[1]))
    c1, r1 = to_grid((mark.bbox[2], mark.bbox[3]))
    return replace(mark, point=to_grid(mark.point), bbox=(c0, r0, c1, r1))


def _only_near(pixels: np.ndarray, tile: Tile, mark: Mark, label: str) -> bool:
    """Every pixel in the mass colour lies on the mark's box or on its label (above or below the
    box, from its left edge, pushed left to stay on the tile)."""
    c0, r0, c1, r1 = mark.bbox
    (x0, y0), (x1, y1) = tile.to_canvas((c0, r0)), tile.to_canvas((c1, r1))
    width = ImageFont.load_default(size=13).getlength(label)
    tx = min(max(min(x0, x1), tile.x0), tile.x0 + tile.width - width)
    rows, cols = np.nonzero(_red(pixels))
    on_box = (cols >= min(x0, x1) - 2) & (cols <= max(x0, x1) + 2)
    on_label = (cols >= tx - 1) & (cols <= tx + width + 1)
    inside = (on_box | on_label) & (rows >= min(y0, y1) - 20) & (rows <= max(y0, y1) + 20)
    return bool(len(rows)) and bool(inside.all())


# ---- volume marks on the synthesized view --------------------------------------------------------


def test_volume_mark_drawn_on_the_synthesized_view_at_its_place(with_views: Written) -> None:
    finding = _volume_finding(with_views.truth)
    (mark,) = finding.marks
    sc = _build(with_views.views, [finding], with_views.volumes)
    tile = sc.tiles[with_views.synthesized_uid]
    assert tile.frame is None and len(sc.tiles) == 4, "the synthesized views fill the four slots"
    assert sc.grid_maps[tile.sop_instance_uid] == GridMap(mark.sop_instance_uid)  # phantoms: one grid
    ((uid, to_grid, label),) = sc.placement(finding, mark)
    assert (uid, label) == (tile.sop_instance_uid, f"Mass 0.65 DBT f{mark.frame}")
    assert _edge_hits(sc.pixels, tile, _mapped(mark, to_grid), RED) > 0.9
    assert _only_near(sc.pixels, tile, mark, label), "drawn on the R CC view only, nowhere else"
    # without the volume the mark has no grid to be drawn on: the montage shows no mass colour
    assert not _red(_build(with_views.views, [finding], []).pixels).any()


def test_volume_marks_scale_onto_a_coarser_synthesized_view(with_views: Written) -> None:
    """A synthesized view at twice the volume's pixel size: points scale by the spacings' ratio."""
    finding = _volume_finding(with_views.truth)
    (mark,) = finding.marks
    images = [
        _halved(ds, p) if ds.SOPInstanceUID == with_views.synthesized_uid else (ds, p)
        for ds, p in with_views.views
    ]
    sc = _build(images, [finding], with_views.volumes)
    tile = sc.tiles[with_views.synthesized_uid]
    assert sc.grid_maps[tile.sop_instance_uid] == GridMap(mark.sop_instance_uid, 0.5, 0.5)
    ((_, to_grid, label),) = sc.placement(finding, mark)
    halved = _mapped(mark, to_grid)
    assert halved.bbox == tuple(v / 2 for v in mark.bbox)
    assert _edge_hits(sc.pixels, tile, halved, RED) > 0.9
    assert _only_near(sc.pixels, tile, halved, label)


def _halved(ds: Dataset, pixels: np.ndarray) -> tuple[Dataset, np.ndarray]:
    out = deepcopy(ds)
    rows, cols = (pixels.shape[0] // 2) * 2, (pixels.shape[1] // 2) * 2
    small = pixels[:rows, :cols].reshape(rows // 2, 2, cols // 2, 2).mean(axis=(1, 3)).astype(np.uint16)
    out.Rows, out.Columns = small.shape
    spacing = [f"{2 * float(v):g}" for v in ds.ImagerPixelSpacing]
    out.ImagerPixelSpacing = spacing
    if "PixelSpacing" in out:
        out.PixelSpacing = spacing
    return out, small


Change = Callable[[Dataset, np.ndarray], tuple[Dataset, np.ndarray]]


def _preserved_no(ds: Dataset, pixels: np.ndarray) -> tuple[Dataset, np.ndarray]:
    ds.SourceImageSequence[0].SpatialLocationsPreserved = "NO"
    return ds, pixels


def _reoriented(ds: Dataset, pixels: np.ndarray) -> tuple[Dataset, np.ndarray]:
    ds.SourceImageSequence[0].SpatialLocationsPreserved = "REORIENTED_ONLY"
    return ds, pixels


def _mirrored(ds: Dataset, pixels: np.ndarray) -> tuple[Dataset, np.ndarray]:
    ds.PatientOrientation = ["A", "R"]  # the R CC volume's columns run posterior (P)
    return ds, pixels[:, ::-1].copy()


def _cropped(ds: Dataset, pixels: np.ndarray) -> tuple[Dataset, np.ndarray]:
    """Half the matrix at the same pixel size: half the field of view, alignment unknown."""
    ds.Rows = pixels.shape[0] // 2
    return ds, pixels[: ds.Rows].copy()


def _no_spacing(ds: Dataset, pixels: np.ndarray) -> tuple[Dataset, np.ndarray]:
    ds, small = _halved(ds, pixels)
    for keyword in ("ImagerPixelSpacing", "PixelSpacing"):
        if keyword in ds:
            delattr(ds, keyword)
    return ds, small


@pytest.mark.parametrize("change", [_preserved_no, _reoriented, _mirrored, _cropped, _no_spacing])
def test_marks_that_cannot_be_mapped_are_not_drawn(
    with_views: Written, change: Change, caplog: pytest.LogCaptureFixture
) -> None:
    finding = _volume_finding(with_views.truth)
    images = []
    for ds, pixels in with_views.views:
        if ds.SOPInstanceUID == with_views.synthesized_uid:
            ds, pixels = change(deepcopy(ds), pixels)
        images.append((ds, pixels))
    sc = _build(images, [finding], with_views.volumes)
    assert with_views.synthesized_uid not in sc.grid_maps
    assert sc.placement(finding, finding.marks[0]) == []
    assert not _red(sc.pixels).any()
    assert "not drawn on" in caplog.text


# ---- a lesion found on the volume and on its synthesized view ------------------------------------


def _linked_pair(truth: dict[str, Any], synthesized_uid: str, link: bool) -> tuple[Finding, Finding]:
    """A volume finding and a finding on the synthesized view, the latter's box 8 pixels wider."""
    (col, row), (c0, r0, c1, r1) = truth["centre"], truth["bbox"]
    wider = Mark(synthesized_uid, (col, row), (c0 - 8, r0 - 8, c1 + 8, r1 + 8), 0.72, "R", "CC")
    flat = Finding(
        "mass-1", FindingKind.MASS, "R", 0.72, (wider,), correlated_with=("mass-2",) if link else ()
    )
    volume = _volume_finding(truth, correlated_with=("mass-1",) if link else ())
    return flat, volume


def test_linked_volume_and_view_findings_are_drawn_once_with_both_labels(with_views: Written) -> None:
    """Linked and at the same place: the view's own mark, labelled with both findings."""
    flat, volume = _linked_pair(with_views.truth, with_views.synthesized_uid, link=True)
    sc = _build(with_views.views, [flat, volume], with_views.volumes)
    tile = sc.tiles[with_views.synthesized_uid]
    frame = volume.marks[0].frame
    assert sc.placement(flat, flat.marks[0]) == [
        (tile.sop_instance_uid, None, f"Mass 0.72 / DBT f{frame} 0.65")
    ]
    assert sc.placement(volume, volume.marks[0]) == [], "the volume's mark is not drawn a second time"
    assert _edge_hits(sc.pixels, tile, flat.marks[0], RED) > 0.9
    assert _edge_hits(sc.pixels, tile, volume.marks[0], RED) == 0.0
    # unlinked, they are two findings and both are drawn
    flat, volume = _linked_pair(with_views.truth, with_views.synthesized_uid, link=False)
    both = _build(with_views.views, [flat, volume], with_views.volumes)
    assert both.placement(flat, flat.marks[0]) == [(tile.sop_instance_uid, None, "Mass 0.72")]
    assert _edge_hits(both.pixels, tile, flat.marks[0], RED) > 0.9
    assert _edge_hits(both.pixels, tile, volume.marks[0], RED) > 0.9
    # linked (say on the other view) but marked elsewhere on this one: both are drawn
    flat, volume = _linked_pair(with_views.truth, with_views.synthesized_uid, link=True)
    (mark,) = flat.marks
    away = replace(mark, point=(60.0, 60.0), bbox=(40.0, 40.0, 80.0, 80.0))
    apart = _build(with_views.views, [replace(flat, marks=(away,)), volume], with_views.volumes)
    assert apart.placement(volume, volume.marks[0]) == [
        (tile.sop_instance_uid, GridMap(volume.marks[0].sop_instance_uid), f"Mass 0.65 DBT f{frame}")
    ]
    assert _edge_hits(apart.pixels, tile, away, RED) > 0.9
    assert _edge_hits(apart.pixels, tile, volume.marks[0], RED) > 0.9


# ---- volumes without synthesized views -----------------------------------------------------------


def test_volume_frame_of_the_best_mark_fills_a_slot_without_2d_view(volumes_only: Written) -> None:
    truth = volumes_only.truth
    finding = _volume_finding(truth)
    weaker = Finding(
        "mass-3",
        FindingKind.MASS,
        "R",
        0.2,
        (replace(finding.marks[0], point=(50.0, 60.0), bbox=(40.0, 50.0, 60.0, 70.0), score=0.2, frame=3),),
    )
    tracemalloc.start()
    try:
        sc = _build([], [weaker, finding], volumes_only.volumes)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    volume = pydicom.dcmread(volumes_only.volumes[0], stop_before_pixels=True)
    volume_bytes = volume.Rows * volume.Columns * volume.NumberOfFrames * 4  # one volume as float32
    assert peak < volume_bytes / 2, f"peak {peak / 2**20:.1f} MB: volumes are read a frame at a time"
    assert len(sc.tiles) == 4
    tile = sc.tiles[truth["sop_instance_uid"]]
    shown = tile.frame
    assert shown is not None and shown == truth["focus_frame"], "the frame of the best mark"
    for info in volumes_only.study.truth["volumes"]:
        if info["sop_instance_uid"] != truth["sop_instance_uid"]:
            assert sc.tiles[info["sop_instance_uid"]].frame == (info["frames"] + 1) // 2, "unmarked: middle"
    ((_, to_grid, label),) = sc.placement(finding, finding.marks[0])
    assert to_grid is None and label == f"Mass 0.65 DBT f{truth['focus_frame']}"
    assert _edge_hits(sc.pixels, tile, finding.marks[0], RED) > 0.9
    # the tile shows that frame, not another one
    assert not (tile.flip_h or tile.flip_v)
    path = next(
        p
        for p in volumes_only.volumes
        if pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID == tile.sop_instance_uid
    )
    assert _tile_error(sc.pixels, tile, path, shown) < 1.0
    middle = (int(pydicom.dcmread(path, stop_before_pixels=True).NumberOfFrames) + 1) // 2
    for other in (1, shown - 2, middle, shown + 2):
        assert _tile_error(sc.pixels, tile, path, other) > 1.5, f"frame {other} looks like the one shown"
    # written and read back: the frames shown are the sources, with their frame numbers
    ds = _round_trip(sc.dataset)
    refs = {
        r.ReferencedSOPInstanceUID: (r.ReferencedSOPClassUID, r.ReferencedFrameNumber)
        for r in ds.SourceImageSequence
    }
    assert refs == {uid: (BTO, t.frame) for uid, t in sc.tiles.items()}
    assert "tomosynthesis" in ds.DerivationDescription
    assert SecondaryCaptureSummary.from_dataset(ds).pixels.tobytes() == sc.pixels.tobytes()


def _tile_error(pixels: np.ndarray, tile: Tile, path: Path, frame: int) -> float:
    """Median grey-level difference between the tile and ``frame`` of the volume rendered alone."""
    volume = read_volume(path)
    assert volume is not None
    stored = pydicom.dcmread(path).pixel_array[frame - 1].astype(np.float32)
    shown = window(stored, frame_header(volume, frame))
    expected = np.asarray(Image.fromarray(shown).resize((tile.width, tile.height), Image.Resampling.BOX))
    region = pixels[tile.y0 : tile.y0 + tile.height, tile.x0 : tile.x0 + tile.width].astype(np.float32)
    grey = (region[:, :, 0] == region[:, :, 1]) & (region[:, :, 1] == region[:, :, 2])
    breast = grey & (expected > 10)  # the background is black on every frame
    return float(np.median(np.abs(region[:, :, 0] - expected)[breast]))


# ---- the pipeline's study summary ----------------------------------------------------------------


def test_study_summary_passes_volumes_as_files(with_views: Written, tmp_path: Path) -> None:
    """summarise() hands volumes over as paths (never decoded whole as 2-D images), so the
    summary of a DBT study shows the volume's marks on the synthesized view."""
    study = study_ref(with_views.study, tmp_path)  # volumes indexed without their frame count
    finding = _volume_finding(with_views.truth)
    uid, ok = study.study_instance_uid, AlgorithmStatus.OK
    masses = AlgorithmResult(ALGO, VERSION, uid, ok, findings=(finding,), operating_threshold=0.1)
    # the default triage policy assesses a study once calcifications ran
    calcs = AlgorithmResult("breastgate.calcifications", "1.0.0", uid, ok, operating_threshold=0.5)
    (output,) = summarise(study, [masses, calcs]).outputs
    decoded = SecondaryCaptureSummary.from_dataset(_round_trip(output.dataset))
    assert set(decoded.source_sop_instance_uids) == {str(ds.SOPInstanceUID) for ds, _ in with_views.views}
    expected = _build(with_views.views, [finding], with_views.volumes)
    tile = expected.tiles[with_views.synthesized_uid]
    assert _edge_hits(decoded.pixels, tile, finding.marks[0], RED) > 0.9
