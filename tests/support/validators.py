"""Wrappers around the external validators (reference/tools.md): dciodvfy, PixelMed, dsrdump."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PIXELMED_JAR = "/usr/share/java/pixelmed.jar"


@dataclass(frozen=True)
class Report:
    output: str
    errors: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors


def dciodvfy(path: Path | str, profile: str | None = None) -> Report:
    """Run dciodvfy (optionally ``-profile`` e.g. IHEDBT); errors are the lines starting with ``Error``."""
    options = ["-profile", profile] if profile else []
    proc = subprocess.run(["dciodvfy", *options, str(path)], capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    return Report(out, [line for line in out.splitlines() if line.startswith("Error")])


#: One JVM validates a batch of SRs (tests/support/SRValidateMany.java, a single-file source program).
BATCH_LAUNCHER = Path(__file__).with_name("SRValidateMany.java")
_SEPARATOR = "==== "


def pixelmed_sr(path: Path | str) -> Report:
    """Run PixelMed's DicomSRValidator (template check) on one file."""
    (report,) = pixelmed_sr_many([path])
    return report


def pixelmed_sr_many(paths: Sequence[Path | str]) -> list[Report]:
    """PixelMed's DicomSRValidator on each file, in order, in one JVM with the JAXP limits lifted.

    A JVM start and the validator's stylesheet compilation cost seconds of CPU per call
    (reference/tools.md); validating a test module's objects in one call pays them once. Each
    file gets its own :class:`Report` (its part of the output, its ``Error`` lines), exactly what
    ``DicomSRValidator FILE`` prints for it alone.
    """
    files = [str(p) for p in paths]
    if not files:
        return []
    cmd = [
        "java",
        "-Djdk.xml.xpathExprOpLimit=0",
        "-Djdk.xml.xpathExprGrpLimit=0",
        "-Djdk.xml.xpathTotalOpLimit=0",
        "-XX:TieredStopAtLevel=1",  # short-lived: the C1 compiler alone spends less CPU
        "-cp",
        PIXELMED_JAR,
        str(BATCH_LAUNCHER),
        *files,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300 * len(files))
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in proc.stdout.splitlines():
        if line.startswith(_SEPARATOR) and line[len(_SEPARATOR) :] in files:
            current = sections.setdefault(line[len(_SEPARATOR) :], [])
        elif current is not None:
            current.append(line)
    missing = [f for f in files if f not in sections]
    if proc.returncode != 0 or missing:
        raise RuntimeError(
            f"PixelMed DicomSRValidator failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"
        )
    reports = []
    for f in files:
        out = "\n".join(sections[f])
        reports.append(Report(out, [line for line in out.splitlines() if line.startswith("Error")]))
    return reports


def dsrdump(path: Path | str) -> str:
    """Render an SR with dcmtk's dsrdump; raises if it cannot."""
    proc = subprocess.run(["dsrdump", str(path)], capture_output=True, text=True, timeout=120, check=True)
    return proc.stdout
