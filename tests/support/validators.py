"""Wrappers around the external validators (reference/tools.md): dciodvfy, PixelMed, dsrdump."""

from __future__ import annotations

import subprocess
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


def pixelmed_sr(path: Path | str) -> Report:
    """Run PixelMed's DicomSRValidator (template check) with the JAXP limits lifted."""
    cmd = [
        "java",
        "-Djdk.xml.xpathExprOpLimit=0",
        "-Djdk.xml.xpathExprGrpLimit=0",
        "-Djdk.xml.xpathTotalOpLimit=0",
        "-cp",
        PIXELMED_JAR,
        "com.pixelmed.validate.DicomSRValidator",
        str(path),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    return Report(out, [line for line in out.splitlines() if line.startswith("Error")])


def dsrdump(path: Path | str) -> str:
    """Render an SR with dcmtk's dsrdump; raises if it cannot."""
    proc = subprocess.run(["dsrdump", str(path)], capture_output=True, text=True, timeout=120, check=True)
    return proc.stdout
