"""Signal physics of the DCE-MRI phantom: Parker AIF, extended Tofts, SPGR signal, curve classes.

References (algorithms.md §3.1-3.5): the Parker population AIF (Parker et al., MRM 56:993, 2006)
converted from whole blood to plasma with Hct 0.42; the extended Tofts model
C_t = v_p C_p + K^trans ∫ C_p(τ) e^{−k_ep (t−τ)} dτ (k_ep = K^trans / v_e); the spoiled gradient
echo signal S = M0 sinα (1−E)/(1−cosα E), E = exp(−TR (1/T10 + r1 C)).

The BI-RADS classes use the rules the gateway reports with: initial phase from the percent
enhancement at the first post-contrast phase (slow < 50 %, medium 50-100 %, fast > 100 %) and
delayed phase from the late signal relative to the first post-contrast signal (> +10 % persistent,
within ±10 % plateau, < −10 % washout). Times are in seconds, K^trans and k_ep in min⁻¹.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "HCT",
    "R1",
    "CurveClass",
    "Sequence",
    "TissueKinetics",
    "classify_curve",
    "parker_blood",
    "plasma_aif",
    "spgr",
    "tofts_table",
]

HCT = 0.42
#: Gadolinium relaxivity r1 (s⁻¹ mM⁻¹) at 1.5-3 T.
R1 = 4.5
_DT = 0.5  # s, the AIF sampling step of the convolution
_CURVE_TYPES = {"persistent": "I", "plateau": "II", "washout": "III"}
_WORST = ("persistent", "plateau", "washout")

Floats = npt.NDArray[np.floating[Any]]


def parker_blood(t_s: Floats) -> Floats:
    """Parker population AIF: whole-blood gadolinium concentration (mM) at ``t_s`` seconds after
    bolus arrival; 0 before it."""
    t = np.asarray(t_s, dtype=np.float64) / 60.0
    gauss = 5.732581 * np.exp(-((t - 0.17046) ** 2) / (2 * 0.0563**2)) + 0.997356 * np.exp(
        -((t - 0.365) ** 2) / (2 * 0.132**2)
    )
    tail = 1.050 * np.exp(-0.1685 * t) / (1.0 + np.exp(-38.078 * (t - 0.483)))
    out: Floats = np.where(t > 0, gauss + tail, 0.0)
    return out


def plasma_aif(t_s: Floats, delay_s: float = 0.0) -> Floats:
    """Plasma concentration (mM): Parker blood curve / (1 − Hct), arriving ``delay_s`` after injection."""
    return parker_blood(np.asarray(t_s, dtype=np.float64) - delay_s) / (1.0 - HCT)


@dataclass(frozen=True)
class Sequence:
    """A spoiled gradient echo (3-D FLASH / THRIVE / VIBRANT-like) sequence."""

    tr_ms: float
    te_ms: float
    flip_deg: float
    field_t: float


def spgr(m0: Floats | float, t10_s: Floats | float, conc_mm: Floats | float, seq: Sequence) -> Floats:
    """Steady-state SPGR signal of tissue with proton density ``m0``, native T1 ``t10_s`` and
    gadolinium concentration ``conc_mm``."""
    alpha = math.radians(seq.flip_deg)
    e = np.exp(-(seq.tr_ms / 1000.0) * (1.0 / np.asarray(t10_s) + R1 * np.asarray(conc_mm)))
    out: Floats = np.asarray(m0) * math.sin(alpha) * (1.0 - e) / (1.0 - math.cos(alpha) * e)
    return out


@dataclass(frozen=True)
class TissueKinetics:
    """Extended Tofts parameters: K^trans (min⁻¹), v_e, v_p (fractions)."""

    ktrans: float
    ve: float
    vp: float

    @property
    def kep(self) -> float:
        return self.ktrans / self.ve if self.ve > 0 else 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "ktrans_per_min": round(self.ktrans, 5),
            "ve": round(self.ve, 4),
            "vp": round(self.vp, 4),
            "kep_per_min": round(self.kep, 5),
        }


class ToftsTable:
    """The Tofts convolution ∫ C_p(τ) e^{−k_ep (t−τ)} dτ at the phase times, tabulated over k_ep so
    whole volumes of voxels with their own k_ep are evaluated by interpolation (log k_ep)."""

    KEP_MIN, KEP_MAX, SIZE = 1e-3, 20.0, 160

    def __init__(self, times_s: Floats, delay_s: float) -> None:
        self.times = np.asarray(times_s, dtype=np.float64)
        self.delay_s = delay_s
        grid = np.arange(0.0, max(float(self.times.max()), 0.0) + 2 * _DT, _DT)
        cp = plasma_aif(grid, delay_s)
        self.cp_at = plasma_aif(self.times, delay_s)
        self.log_kep = np.linspace(math.log(self.KEP_MIN), math.log(self.KEP_MAX), self.SIZE)
        table = np.zeros((self.SIZE, len(self.times)))
        for i, kep in enumerate(np.exp(self.log_kep) / 60.0):
            conv = np.convolve(cp, np.exp(-kep * grid))[: len(grid)] * _DT
            table[i] = np.interp(self.times, grid, conv, left=0.0)
        self.table = table

    def concentration(self, phase: int, ktrans: Floats, kep: Floats, vp: Floats) -> Floats:
        """C_t (mM) at phase ``phase`` for voxel arrays of K^trans, k_ep (min⁻¹) and v_p."""
        if self.times[phase] <= 0:
            return np.zeros(np.broadcast(ktrans, kep, vp).shape)
        lk = np.log(np.clip(kep, self.KEP_MIN, self.KEP_MAX))
        conv = np.interp(lk, self.log_kep, self.table[:, phase]).astype(np.asarray(ktrans).dtype)
        out: Floats = vp * self.cp_at[phase].astype(conv.dtype) + (ktrans / 60.0) * conv
        return out


def tofts_table(times_s: Floats, delay_s: float) -> ToftsTable:
    """A :class:`ToftsTable` for the given phase times (s from injection) and bolus delay."""
    return ToftsTable(times_s, delay_s)


@dataclass(frozen=True)
class CurveClass:
    """BI-RADS kinetic class of one mean curve (signal per phase)."""

    initial_pct: float
    delayed_pct: float
    peak_pct: float
    initial_phase: str
    delayed_phase: str

    @property
    def curve_type(self) -> str:
        return _CURVE_TYPES[self.delayed_phase]

    def worse_than(self, other: CurveClass) -> bool:
        return _WORST.index(self.delayed_phase) > _WORST.index(other.delayed_phase)


def classify_curve(signal: Floats, pre_index: int = 0) -> CurveClass:
    """Classify a mean signal curve (one value per phase; the phase after ``pre_index`` is the first
    post-contrast one and the last phase the delayed one)."""
    s = np.asarray(signal, dtype=np.float64)
    base, first, last = s[pre_index], s[pre_index + 1], s[-1]
    initial = 100.0 * (first - base) / base
    delayed = 100.0 * (last - first) / first
    peak = 100.0 * (float(s[pre_index + 1 :].max()) - base) / base
    init = "slow" if initial < 50 else "medium" if initial <= 100 else "fast"
    late = "persistent" if delayed > 10 else "washout" if delayed < -10 else "plateau"
    return CurveClass(round(initial, 2), round(delayed, 2), round(peak, 2), init, late)
