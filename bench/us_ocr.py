"""How well ``imaging.us_ocr.read_annotation`` reads rendered ultrasound annotation text.

Usage: ``python bench/us_ocr.py --count 200 --seed 1900``.
Frame i: a random location (side, clock 1-12, 1-8 cm from the nipple, plane or none) written in one
of the phantom's styles ("RT BREAST 10:00 3 CM FN", "L 2 o'clock 4cmFN", "LT BR 2:00 4CM FN RAD",
"RIGHT 10 OCLOCK 3CM FROM NIPPLE", "LEFT BREAST 2 H 4 CMFN ARAD"), with a random DejaVu font
(Sans, Sans Bold, Sans Mono, Sans Condensed), size 12-22 px, colour (white, light grey, yellowish),
layout (top-left, bottom-left, right column, two lines, with scanner settings around) and a
different location written inside the speckle region (to be ignored). Prints the share of frames
whose side, clock, distance and plane all equal the drawn ones, per field, the share read wrong
(known but different: the dangerous case) and unknown, the frames with any field given a wrong
value, by font/size/layout, and the time per frame (OMP_THREAD_LIMIT=1).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests.support
from tests.support.us_frames import COLOURS, Text, render_frame

FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono.ttf", "DejaVuSansCondensed.ttf")
PLANES = {"RAD": "radial", "ARAD": "antiradial", "TRANS": "transverse", "SAG": "sagittal", "": None}
REGION = (160, 60, 640, 540)
DECOY = (Text("LT 4:00 2CM FN", (300, 300)),)
LAYOUTS = ("top-left", "bottom-left", "right-column", "two-lines", "with-settings")


def annotation(rng: random.Random) -> tuple[str, tuple[str, int, float, str | None]]:
    """A random annotation text in one of the phantom's styles, and its truth."""
    side = rng.choice("LR")
    clock = rng.randint(1, 12)
    cm = rng.randint(1, 8)
    plane_code = rng.choice(list(PLANES))
    short, word = ("LT", "LEFT") if side == "L" else ("RT", "RIGHT")
    styles = (
        f"{short} BREAST {clock}:00 {cm} CM FN {plane_code}",
        f"{side} {clock} o'clock {cm}cmFN {plane_code}",
        f"{short} BR {clock}:00 {cm}CM FN {plane_code}",
        f"{word} {clock} OCLOCK {cm}CM FROM NIPPLE {plane_code}",
        f"{word} BREAST {clock} H {cm} CMFN {plane_code}",
    )
    return rng.choice(styles).strip(), (side, clock, cm * 10.0, PLANES[plane_code])


def place(text: str, layout: str, size: int) -> list[Text]:
    """The text placed in the margins of an 800 x 600 frame."""
    words = text.split()
    half = max(1, len(words) // 2)
    step = size + 8
    if layout == "top-left":
        return [Text(text, (10, 10))]
    if layout == "bottom-left":
        return [Text(text, (10, 600 - step))]
    if layout == "right-column":
        chunks = [" ".join(words[i : i + 2]) for i in range(0, len(words), 2)]
        return [Text(chunk, (650, 100 + step * i)) for i, chunk in enumerate(chunks)]
    if layout == "two-lines":
        return [Text(" ".join(words[:half]), (10, 6)), Text(" ".join(words[half:]), (10, 6 + step))]
    settings = [
        Text("GAIN 52  DR 65", (650, 10)),
        Text("FR 28Hz  D 4.0cm", (650, 10 + step)),
        Text("L12-5", (700, 565)),
    ]
    return [Text(text, (10, 600 - step)), *settings]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1900)
    parser.add_argument("--show", type=int, default=15, help="misreadings to print")
    args = parser.parse_args()
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # the bench's own process: one OCR thread

    from breastgate.imaging.us_ocr import read_annotation

    rng = random.Random(args.seed)
    fields = ("laterality", "clock", "distance", "plane")
    field_ok: Counter[str] = Counter()
    by: dict[str, list[bool]] = defaultdict(list)
    wrong = unknown = misread = 0
    times: list[float] = []
    misses: list[str] = []
    for i in range(args.count):
        text, truth = annotation(rng)
        font, size = rng.choice(FONTS), rng.randint(12, 22)
        colour, layout = rng.choice(COLOURS), rng.choice(LAYOUTS)
        drawn = place(text, layout, size)
        frame = render_frame(drawn, font=font, size=size, colour=colour, region=REGION, inside=DECOY, seed=i)
        start = time.perf_counter()
        reading = read_annotation(frame, [REGION])
        times.append(time.perf_counter() - start)
        if not reading.available:
            sys.exit(f"OCR not available: {reading.reason}")
        loc = reading.location
        read = (loc.laterality, loc.clock, loc.distance_from_nipple_mm, loc.plane)
        ok = read == truth
        for name, got, want in zip(fields, read, truth, strict=True):
            field_ok[name] += got == want
        misread += any(got is not None and got != want for got, want in zip(read, truth, strict=True))
        if not loc.known:
            unknown += 1
        elif (loc.laterality, loc.clock) != truth[:2]:
            wrong += 1
        for key in (f"font {font}", f"size {size // 3 * 3}-{size // 3 * 3 + 2}", f"layout {layout}"):
            by[key].append(ok)
        if not ok and len(misses) < args.show:
            lines = " | ".join(line.text for line in reading.lines)
            misses.append(f"  #{i} {font} {size}px {layout}: drawn {text!r} read {lines!r} -> {read}")
    n = args.count
    correct = sum(sum(by[f"layout {k}"]) for k in LAYOUTS)
    print(f"frames: {n} (seed {args.seed})")
    print(f"all four fields correct: {correct}/{n} = {correct / n:.1%}")
    for name in fields:
        print(f"  {name}: {field_ok[name] / n:.1%}")
    print(f"side+clock known but wrong: {wrong}/{n}; unknown (side or clock not read): {unknown}/{n}")
    print(f"frames with any field read with a wrong value (not unknown): {misread}/{n}")
    for key in sorted(by):
        print(f"  {key}: {sum(by[key])}/{len(by[key])}")
    times.sort()
    p95 = times[int(0.95 * (n - 1))]
    print(f"time per frame: median {times[n // 2] * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
    if misses:
        print("misreadings:")
        print("\n".join(misses))


if __name__ == "__main__":
    main()
