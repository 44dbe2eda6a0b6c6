"""Files out to a folder: patient letters to the site's print or mail service (its spool folder).

Destination ``dir:/absolute/path``. The file is copied under a temporary name, fsync'ed and
renamed, so the service never picks up half a file; the name is the outbox key plus the source's
suffix, so a re-delivery overwrites the same file instead of adding a second letter. A folder that
is missing or not writable (an unmounted share) is retried; a destination that is not ``dir:`` is
a permanent failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from breastgate.domain.errors import PeerUnavailableError, UnreadableObjectError
from breastgate.domain.outputs import SpoolFolder


class FolderSender:
    """Outbox sender for files dropped into a folder (kind ``letter``)."""

    def send(self, destination: SpoolFolder | str, path: Path) -> None:
        spool = destination if isinstance(destination, SpoolFolder) else SpoolFolder.parse(destination)
        folder = Path(spool.path)
        if not path.is_file():
            raise UnreadableObjectError(f"{path.name} is missing")
        if not folder.is_dir():
            raise PeerUnavailableError(f"folder {folder} is not there (unmounted share?)")
        target = folder / path.name
        temp = folder / f".{path.name}.part"
        try:
            with path.open("rb") as src, temp.open("wb") as dst:
                shutil.copyfileobj(src, dst)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(temp, target)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise PeerUnavailableError(f"cannot write to {folder}: {exc.strerror}") from None
