"""Report drafts and their confirmation; the letter spool sender; names on letters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from breastgate.delivery.folder import FolderSender
from breastgate.domain.errors import InvalidDestinationError, InvalidInputError, PeerUnavailableError
from breastgate.pipeline.letters import display_name
from breastgate.store import reports, studies
from breastgate.store.db import Database
from tests.support.db import upgrade

UID = "1.2.826.0.1.3680043.10.1403.7"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    upgrade(url)
    database = Database(url)
    with database.session() as s:
        studies.record_instance(
            s,
            studies.InstanceInfo(
                study_instance_uid=UID, series_instance_uid=UID + ".1", sop_instance_uid=UID + ".1.1",
                sop_class_uid="1.2.840.10008.5.1.4.1.1.1.2", path="/nowhere.dcm", modality="MG",
            ),
        )  # fmt: skip
    yield database
    database.dispose()


def _draft(db: Database, generation: int = 1, birads: str | None = "1", density: str | None = "b") -> None:
    with db.session() as s:
        reports.save_draft(
            s,
            UID,
            generation=generation,
            birads=birads,
            density=density,
            text="T",
            draft_json="{}",
            sr_path=None,
        )


def test_confirmation_keeps_the_draft_and_records_the_radiologist(db: Database) -> None:
    _draft(db)
    with db.session() as s:
        record = reports.confirm(s, UID, by="  RAD^ONE ", density="C")
    assert (record.status, record.confirmed_by, record.density, record.confirmed_density) == (
        "confirmed", "RAD^ONE", "b", "c",
    )  # fmt: skip
    assert record.confirmed_birads == "1" and record.final_density == "c"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"by": " "}, "names the radiologist"), ({"by": "R", "birads": "7"}, "not 0-6"),
     ({"by": "R", "density": "e"}, "not a-d")],
)  # fmt: skip
def test_bad_confirmations_are_refused(db: Database, kwargs: dict[str, str], message: str) -> None:
    _draft(db)
    with db.session() as s, pytest.raises(InvalidInputError, match=message):
        reports.confirm(s, UID, **kwargs)  # type: ignore[arg-type]
    with db.session() as s, pytest.raises(LookupError):
        reports.confirm(s, "9.9", by="R")


def test_a_new_generation_needs_a_new_confirmation_and_an_old_one_never_wins(db: Database) -> None:
    _draft(db, generation=1)
    with db.session() as s:
        reports.confirm(s, UID, by="R")
    _draft(db, generation=2, birads="0")
    _draft(db, generation=1, birads="1")  # a late job of the old generation
    with db.session() as s:
        record = reports.get_report(s, UID)
    assert record is not None
    assert (record.generation, record.birads, record.status, record.confirmed_by) == (2, "0", "draft", None)


def test_folder_sender_drops_whole_files_and_waits_for_a_missing_folder(tmp_path: Path) -> None:
    source = tmp_path / "letter-1.pdf"
    source.write_bytes(b"%PDF-1.7 test")
    spool = tmp_path / "spool"
    sender = FolderSender()
    with pytest.raises(PeerUnavailableError):
        sender.send(f"dir:{spool}", source)  # not mounted yet: retried later
    spool.mkdir()
    sender.send(f"dir:{spool}", source)
    sender.send(f"dir:{spool}", source)  # a re-delivery overwrites, never a second letter
    assert [p.name for p in spool.iterdir()] == ["letter-1.pdf"]
    assert (spool / "letter-1.pdf").read_bytes() == b"%PDF-1.7 test"
    with pytest.raises(InvalidDestinationError):
        sender.send("relative/folder", source)


def test_names_print_as_a_letter_addresses_them() -> None:
    assert display_name("DOE^JANE^M^MRS") == "Mrs Jane M Doe"
    assert display_name("van Dijk^Anna") == "Anna van Dijk"
    assert display_name(None) == "Patient"
