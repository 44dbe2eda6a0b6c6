"""The committed page bundle (``src/breastgate/web/ui/static``) is built from today's ``frontend/``
sources: vite writes the hash of the sources it built from, recomputed here (no Node needed).
After changing ``frontend/``, run ``make ui`` and commit the bundle."""

from __future__ import annotations

import hashlib
from pathlib import Path

from breastgate.web.ui.pages import STATIC, bundle_version, shell

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


def source_hash(root: Path) -> str:
    """The same hash as ``sourceHash()`` in ``frontend/vite.config.js``."""
    inputs = [p for p in (root / "src").rglob("*") if p.is_file()]
    inputs += [root / "vite.config.js", root / "package-lock.json"]
    digest = hashlib.sha256()
    for rel in sorted(p.relative_to(root).as_posix() for p in inputs):
        digest.update(rel.encode() + b"\n")
        digest.update((root / rel).read_bytes())
        digest.update(b"\n")
    return digest.hexdigest()


def test_the_committed_bundle_is_built_from_the_current_sources() -> None:
    built_from = (STATIC / "source.sha256").read_text().strip()
    assert built_from == source_hash(FRONTEND), "frontend/ changed: run `make ui` and commit the bundle"
    assert (STATIC / "app.js").stat().st_size > 1000 and (STATIC / "app.css").stat().st_size > 500


def test_a_changed_source_changes_the_hash(tmp_path: Path) -> None:
    copy = tmp_path / "frontend"
    (copy / "src").mkdir(parents=True)
    for name in ("vite.config.js", "package-lock.json"):
        (copy / name).write_bytes((FRONTEND / name).read_bytes())
    for path in (FRONTEND / "src").iterdir():
        (copy / "src" / path.name).write_bytes(path.read_bytes())
    same = source_hash(copy)
    (copy / "src" / "main.js").write_text("// changed\n")
    assert same == source_hash(FRONTEND) and source_hash(copy) != same


def test_the_shell_links_the_local_bundle_and_escapes_its_data() -> None:
    page = shell("study", "Study", study='1.2"><script>x</script>').body.decode()
    assert f'src="/static/app.js?v={bundle_version()}"' in page
    assert "<script>x" not in page and "&quot;&gt;&lt;script&gt;" in page
    assert "http" not in page.replace("http-equiv", "")  # nothing from another server
