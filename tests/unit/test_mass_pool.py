"""The mass candidate pool: a longer pool starts with the shorter one, and find_masses scores that pool.

``bench/_real_masses.py`` extracts a long pool once and refits the model on its first
``MAX_CANDIDATES``; that is only what the algorithm does if the peaks are taken greedily in order.
"""

from __future__ import annotations

from pathlib import Path

from breastgate.algorithms import masses
from breastgate.algorithms._findings import _analyse
from breastgate.domain.model import InstanceRef
from breastgate.phantoms import generate_mg_study
from breastgate.phantoms.lesions import LesionRequest


def test_a_longer_pool_extends_the_shorter_and_marks_come_from_it(tmp_path: Path) -> None:
    study = generate_mg_study(
        31, category="c", vendor="profile-b-100um", lesions=[LesionRequest("mass", laterality="L")]
    )
    ds = study.datasets[0]
    path = tmp_path / "0.dcm"
    ds.save_as(path, enforce_file_format=True)
    ctx = _analyse(
        InstanceRef(
            ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.SOPClassUID, "MG", str(path)
        )
    )
    short, _ = masses.describe(ctx, 5)
    long, _ = masses.describe(ctx, 40)
    assert len(short) == 5 and len(long) > 5
    assert [(d.row, d.col) for d in long[:5]] == [(d.row, d.col) for d in short]
    assert [d.features for d in long[:5]] == [d.features for d in short]
    pool = long[: masses.MAX_CANDIDATES]
    best = sorted(pool, key=lambda d: -masses.MODEL.score(d.features))[: masses.MAX_PER_IMAGE]
    marks = masses.find_masses(ctx)
    assert [c.point for c in marks] == [masses._to_original(ctx, float(d.col), float(d.row)) for d in best]
    assert all(0.0 <= c.score <= 1.0 for c in marks)
