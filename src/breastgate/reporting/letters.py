"""Dense-breast notification letters to patients (FDA MQSA final rule, effective 10 September 2024).

Two fixed texts govern what a US facility tells about breast density:

* the report to the physician states the BI-RADS 5th edition category in one of four phrasings,
  21 CFR 900.12(c)(1)(vi) (:func:`density_sentence`);
* the lay summary sent to the patient carries one of two paragraphs, "not dense" for categories
  a and b, "dense" for c and d, 21 CFR 900.12(c)(2)(iii)/(iv) (:func:`lay_summary`).

Both are reproduced here character for character and must never be edited, translated or
re-flowed by a template. Only the standard (plural) wording is implemented; the singular or
number-neutral wording that MQSA Alternative Standard #26 (11 July 2025) allows for unilateral
exams is not, because its approved text is not in the project's reference.

A letter is HTML made from a :class:`LetterTemplate` (``string.Template`` placeholders, see
:data:`PLACEHOLDERS`) and a :class:`SiteLetterhead`; :func:`render_letter_pdf` turns it into PDF
with WeasyPrint, imported only when a PDF is asked for. The patient's name is PHI: it is escaped
into the HTML and never logged.
"""

from __future__ import annotations

import html
import importlib
import logging
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import ModuleType

from breastgate.domain.density import is_dense
from breastgate.reporting.errors import LetterTemplateError, PdfRenderingUnavailableError

LOGGER = logging.getLogger(__name__)

#: 21 CFR 900.12(c)(2)(iii): lay summary when the report says "almost entirely fatty" or
#: "scattered areas of fibroglandular density".
NOT_DENSE_LAY_SUMMARY = (
    "Breast tissue can be either dense or not dense. Dense tissue makes it harder to find breast "
    "cancer on a mammogram and also raises the risk of developing breast cancer. Your breast tissue "
    "is not dense. Talk to your healthcare provider about breast density, risks for breast cancer, "
    "and your individual situation."
)

#: 21 CFR 900.12(c)(2)(iv): lay summary when the report says "heterogeneously dense" or
#: "extremely dense".
DENSE_LAY_SUMMARY = (
    "Breast tissue can be either dense or not dense. Dense tissue makes it harder to find breast "
    "cancer on a mammogram and also raises the risk of developing breast cancer. Your breast tissue "
    "is dense. In some people with dense tissue, other imaging tests in addition to a mammogram may "
    "help find cancers. Talk to your healthcare provider about breast density, risks for breast "
    "cancer, and your individual situation."
)

#: Placeholders a letter template may use; ``lay_summary`` is mandatory.
PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "site_name",
        "site_address",
        "site_phone",
        "site_logo",
        "patient_name",
        "exam_date",
        "letter_date",
        "lay_summary",
    }
)
SUMMARY_PLACEHOLDER = "lay_summary"

_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

DEFAULT_TEMPLATE_SOURCE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Breast density notice</title>
<style>
  @page { size: Letter; margin: 2cm 2.2cm; }
  body { font-family: "DejaVu Sans", sans-serif; font-size: 11pt; line-height: 1.45; color: #111; }
  header { border-bottom: 1px solid #555; padding-bottom: 0.6em; margin-bottom: 1.6em; }
  header .logo { float: right; max-height: 2cm; max-width: 5cm; }
  .site-name { font-size: 15pt; font-weight: bold; }
  .details td { padding: 0 1.5em 0.2em 0; }
  .lay-summary { margin: 1.2em 0; }
</style>
</head>
<body>
<header>
  $site_logo
  <div class="site-name">$site_name</div>
  <div class="site-address">$site_address</div>
  <div class="site-phone">Phone: $site_phone</div>
</header>
<p class="letter-date">$letter_date</p>
<table class="details">
  <tr><td>Patient:</td><td>$patient_name</td></tr>
  <tr><td>Date of mammogram:</td><td>$exam_date</td></tr>
</table>
<p>Dear $patient_name,</p>
<p>This letter tells you about the breast density seen on your mammogram of $exam_date.</p>
<p class="lay-summary">$lay_summary</p>
<p>If you have questions about this letter, please call us at $site_phone.</p>
<p>Sincerely,</p>
<p>$site_name</p>
</body>
</html>
"""


def lay_summary(category: str) -> str:
    """Return the patient lay-summary paragraph, 21 CFR 900.12(c)(2)(iii) (a, b) or (iv) (c, d).

    Raises
    ------
    UnknownDensityCategoryError
        (a ``ValueError``) for anything but ``a``, ``b``, ``c``, ``d``.
    """
    return DENSE_LAY_SUMMARY if is_dense(category) else NOT_DENSE_LAY_SUMMARY


@dataclass(frozen=True)
class SiteLetterhead:
    """The imaging site as it heads its letters; every field is escaped into the HTML."""

    site_name: str
    address_lines: Sequence[str] = ()
    phone: str = ""
    logo_path: Path | None = None

    def placeholders(self) -> dict[str, str]:
        """Return the site's template fields, already HTML-escaped."""
        logo = ""
        if self.logo_path is not None:
            uri = Path(self.logo_path).resolve().as_uri()
            logo = f'<img class="logo" src="{html.escape(uri)}" alt="{html.escape(self.site_name)}">'
        return {
            "site_name": html.escape(self.site_name),
            "site_address": "<br>\n".join(html.escape(line) for line in self.address_lines),
            "site_phone": html.escape(self.phone),
            "site_logo": logo,
        }


@dataclass(frozen=True)
class LetterTemplate:
    """An HTML letter template with ``$name`` placeholders from :data:`PLACEHOLDERS`.

    Valid once built: a template without ``$lay_summary``, with a placeholder it does not
    know, or with a stray ``$`` (write ``$$`` for a literal dollar) is refused.

    Parameters
    ----------
    source
        The HTML text.
    name
        Where it came from, for error messages.
    base_url
        Base for relative URLs (stylesheets, images) when rendering to PDF.
    """

    source: str
    name: str = "default"
    base_url: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        """Check the placeholders."""
        tmpl = string.Template(self.source)
        if not tmpl.is_valid():
            raise LetterTemplateError(
                f"letter template {self.name!r} has an invalid placeholder (write $$ for a literal $)"
            )
        used = set(tmpl.get_identifiers())
        if SUMMARY_PLACEHOLDER not in used:
            raise LetterTemplateError(
                f"letter template {self.name!r} has no ${SUMMARY_PLACEHOLDER} placeholder: the MQSA "
                "lay summary (21 CFR 900.12(c)(2)) must appear in every density letter"
            )
        unknown = sorted(used - PLACEHOLDERS)
        if unknown:
            raise LetterTemplateError(
                f"letter template {self.name!r} uses unknown placeholders {unknown}; "
                f"known: {sorted(PLACEHOLDERS)}"
            )

    @classmethod
    def from_file(cls, path: str | Path) -> LetterTemplate:
        """Load a site's template (UTF-8); relative URLs in it resolve against its folder."""
        file = Path(path)
        try:
            source = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise LetterTemplateError(f"cannot read letter template {str(file)!r}: {exc}") from exc
        return cls(source, name=str(file), base_url=file.resolve().parent.as_uri() + "/")

    def render(self, fields: Mapping[str, str]) -> str:
        """Substitute already-escaped ``fields`` (every placeholder must be given)."""
        return string.Template(self.source).substitute(fields)


DEFAULT_TEMPLATE = LetterTemplate(DEFAULT_TEMPLATE_SOURCE)


def format_letter_date(day: date) -> str:
    """Format a date as US letters do (``September 10, 2024``), whatever the process locale."""
    return f"{_MONTHS[day.month - 1]} {day.day}, {day.year}"


def render_letter_html(
    category: str,
    *,
    patient_name: str,
    exam_date: date,
    letterhead: SiteLetterhead,
    letter_date: date | None = None,
    template: LetterTemplate | None = None,
) -> str:
    """Render a density letter as HTML.

    Parameters
    ----------
    category
        BI-RADS 5th edition density category ``a``-``d`` of the exam.
    patient_name
        Name as it should be printed (e.g. ``Jane Doe``, not the DICOM ``Doe^Jane``); escaped.
    exam_date, letter_date
        Date of the mammogram and of the letter (today when omitted).
    letterhead
        The site heading the letter.
    template
        The site's template; :data:`DEFAULT_TEMPLATE` when omitted.

    Raises
    ------
    UnknownDensityCategoryError
        For a category other than ``a``-``d``.
    """
    summary = lay_summary(category)
    tmpl = template or DEFAULT_TEMPLATE
    fields = letterhead.placeholders()
    fields.update(
        patient_name=html.escape(patient_name),
        exam_date=format_letter_date(exam_date),
        letter_date=format_letter_date(letter_date or date.today()),
        # The regulatory text has no character HTML would change: it goes in verbatim.
        lay_summary=summary,
    )
    text = tmpl.render(fields)
    LOGGER.debug("density letter rendered: category=%s template=%s", category, tmpl.name)
    return text


def pdf_rendering_available() -> bool:
    """Whether WeasyPrint and its system libraries (Pango) can be loaded here."""
    try:
        _weasyprint()
    except PdfRenderingUnavailableError:
        return False
    return True


def _weasyprint() -> ModuleType:
    """Import WeasyPrint, naming what to install when it or Pango is missing."""
    try:
        return importlib.import_module("weasyprint")
    except (ImportError, OSError) as exc:
        raise PdfRenderingUnavailableError(
            "PDF letters need WeasyPrint (pip install weasyprint) and Pango (apt-get install "
            f"libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core): {exc}"
        ) from exc


def render_letter_pdf(
    category: str,
    *,
    patient_name: str,
    exam_date: date,
    letterhead: SiteLetterhead,
    letter_date: date | None = None,
    template: LetterTemplate | None = None,
) -> bytes:
    """Render a density letter as PDF bytes with WeasyPrint; arguments as :func:`render_letter_html`.

    Only ``file:`` and ``data:`` URLs are fetched (a site logo, a stylesheet beside the template):
    rendering a letter never reaches the network.

    Raises
    ------
    PdfRenderingUnavailableError
        When WeasyPrint or Pango is missing.
    """
    tmpl = template or DEFAULT_TEMPLATE
    text = render_letter_html(
        category,
        patient_name=patient_name,
        exam_date=exam_date,
        letterhead=letterhead,
        letter_date=letter_date,
        template=tmpl,
    )
    weasyprint = _weasyprint()
    fetcher = weasyprint.URLFetcher(allowed_protocols=("file", "data"))
    document = weasyprint.HTML(string=text, base_url=tmpl.base_url, url_fetcher=fetcher)
    pdf = document.write_pdf()
    if not isinstance(pdf, bytes):  # write_pdf() without a target returns the bytes
        raise TypeError(f"WeasyPrint returned {type(pdf).__name__}, not bytes")
    return pdf
