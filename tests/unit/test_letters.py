"""Dense-breast letters: MQSA texts verbatim (21 CFR 900.12(c)(1)(vi), (c)(2)(iii)/(iv)), HTML, PDF.

The expected texts below are copied from the reference (algorithms.md §1.2 and §8), not from the
module, so a typo in either shows up here.
"""

from __future__ import annotations

import io
import logging
from datetime import date
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from breastgate.domain.density import density_sentence, is_dense
from breastgate.domain.errors import GatewayError, UnknownDensityCategoryError
from breastgate.reporting.errors import LetterTemplateError
from breastgate.reporting.letters import (
    LetterTemplate,
    SiteLetterhead,
    lay_summary,
    render_letter_html,
    render_letter_pdf,
)

REPORT_SENTENCES = {
    "a": "The breasts are almost entirely fatty.",
    "b": "There are scattered areas of fibroglandular density.",
    "c": "The breasts are heterogeneously dense, which may obscure small masses.",
    "d": "The breasts are extremely dense, which lowers the sensitivity of mammography.",
}
NOT_DENSE = (
    "Breast tissue can be either dense or not dense. Dense tissue makes it harder to find breast cancer "
    "on a mammogram and also raises the risk of developing breast cancer. Your breast tissue is not "
    "dense. Talk to your healthcare provider about breast density, risks for breast cancer, and your "
    "individual situation."
)
DENSE = (
    "Breast tissue can be either dense or not dense. Dense tissue makes it harder to find breast cancer "
    "on a mammogram and also raises the risk of developing breast cancer. Your breast tissue is dense. "
    "In some people with dense tissue, other imaging tests in addition to a mammogram may help find "
    "cancers. Talk to your healthcare provider about breast density, risks for breast cancer, and your "
    "individual situation."
)
EXPECTED_SUMMARY = {"a": NOT_DENSE, "b": NOT_DENSE, "c": DENSE, "d": DENSE}

SITE = SiteLetterhead(
    site_name="Springfield Breast Center",
    address_lines=("12 Main Street", "Springfield, IL 62701"),
    phone="(555) 010-0100",
)
EXAM = date(2024, 9, 10)
LETTER = date(2024, 9, 12)


def _words(text: str) -> str:
    """Collapse the line breaks and runs of blanks that PDF text extraction introduces."""
    return " ".join(text.split())


def _pdf_text(pdf: bytes) -> str:
    return _words(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


@pytest.mark.parametrize("category", ["a", "b", "c", "d"])
def test_report_density_sentence_is_the_regulation_text(category: str) -> None:
    assert density_sentence(category) == REPORT_SENTENCES[category]
    assert density_sentence(f" {category.upper()} ") == REPORT_SENTENCES[category]


@pytest.mark.parametrize("category", ["a", "b", "c", "d"])
def test_lay_summary_is_the_regulation_text(category: str) -> None:
    assert lay_summary(category) == EXPECTED_SUMMARY[category]
    assert is_dense(category) is (category in "cd")


@pytest.mark.parametrize("bad", ["", "e", "3", "dense", "ab", None, 3])
def test_unknown_category_raises(bad: object) -> None:
    for func in (density_sentence, lay_summary, is_dense):
        with pytest.raises(ValueError, match="'a', 'b', 'c' or 'd'") as info:
            func(bad)  # type: ignore[arg-type]
        assert isinstance(info.value, UnknownDensityCategoryError)
        assert isinstance(info.value, GatewayError)
    with pytest.raises(UnknownDensityCategoryError):
        render_letter_html(bad, patient_name="Jane Doe", exam_date=EXAM, letterhead=SITE)  # type: ignore[arg-type]


@pytest.mark.parametrize("category", ["b", "d"])
def test_html_letter_carries_summary_dates_and_site(category: str) -> None:
    text = render_letter_html(
        category, patient_name="Jane Doe", exam_date=EXAM, letterhead=SITE, letter_date=LETTER
    )
    assert EXPECTED_SUMMARY[category] in text
    other = NOT_DENSE if category == "d" else DENSE
    assert other not in text
    for expected in ("Jane Doe", "September 10, 2024", "September 12, 2024", "Springfield Breast Center",
                     "12 Main Street<br>", "Springfield, IL 62701", "(555) 010-0100"):  # fmt: skip
        assert expected in text
    assert "$" not in text  # every placeholder was filled


def test_patient_name_and_site_fields_are_escaped() -> None:
    site = SiteLetterhead(
        site_name='A & B <img src=x onerror="alert(1)">',
        address_lines=("<b>1 Road</b>",),
        phone="<i>5</i>",
        logo_path=Path('/tmp/logo"><script>x</script>.png'),
    )
    text = render_letter_html(
        "c", patient_name="<script>alert('x')</script> O'Brien", exam_date=EXAM, letterhead=site
    )
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; O&#x27;Brien" in text
    assert "A &amp; B &lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in text
    assert "&lt;b&gt;1 Road&lt;/b&gt;" in text
    assert "&lt;i&gt;5&lt;/i&gt;" in text
    assert "<img src=x" not in text


def test_template_without_summary_placeholder_is_refused(tmp_path: Path) -> None:
    source = "<html><body><p>Dear $patient_name,</p><p>Your density letter.</p></body></html>"
    with pytest.raises(LetterTemplateError, match=r"no \$lay_summary placeholder"):
        LetterTemplate(source)
    path = tmp_path / "site.html"
    path.write_text(source, encoding="utf-8")
    with pytest.raises(ValueError, match=r"no \$lay_summary placeholder"):
        LetterTemplate.from_file(path)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("<p>$lay_summary $diagnosis</p>", "unknown placeholders"),
        ("<p>$lay_summary costs $5</p>", "invalid placeholder"),
    ],
)
def test_template_with_bad_placeholders_is_refused(source: str, message: str) -> None:
    with pytest.raises(LetterTemplateError, match=message):
        LetterTemplate(source)


def test_missing_template_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LetterTemplateError, match="cannot read letter template"):
        LetterTemplate.from_file(tmp_path / "absent.html")


def test_site_template_from_file(tmp_path: Path) -> None:
    path = tmp_path / "site.html"
    path.write_text(
        "<html><body><h1>$site_name</h1><p>To: $patient_name ($exam_date, sent $letter_date)</p>"
        "<div>${lay_summary}</div><p>Fees: $$0</p></body></html>",
        encoding="utf-8",
    )
    tmpl = LetterTemplate.from_file(path)
    text = render_letter_html(
        "a", patient_name="Ann <Lee>", exam_date=EXAM, letterhead=SITE, letter_date=LETTER, template=tmpl
    )
    assert f"<div>{NOT_DENSE}</div>" in text
    assert "To: Ann &lt;Lee&gt; (September 10, 2024, sent September 12, 2024)" in text
    assert "Fees: $0" in text
    assert tmpl.base_url == tmp_path.resolve().as_uri() + "/"


@pytest.mark.parametrize("category", ["a", "c"])
def test_pdf_letter_contains_the_lay_summary(category: str) -> None:
    pdf = render_letter_pdf(
        category, patient_name="Jane <Doe>", exam_date=EXAM, letterhead=SITE, letter_date=LETTER
    )
    assert pdf.startswith(b"%PDF")
    text = _pdf_text(pdf)
    assert EXPECTED_SUMMARY[category] in text
    assert (NOT_DENSE if category == "c" else DENSE) not in text
    assert "Dear Jane <Doe>," in text  # escaped in HTML, printed as typed
    assert "September 10, 2024" in text
    assert "Springfield Breast Center" in text


def test_pdf_letter_with_logo_and_no_network(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    logo = tmp_path / "logo.png"
    Image.new("RGB", (40, 20), (200, 30, 90)).save(logo)
    site = SiteLetterhead("Logo Clinic", ("1 Road",), "555", logo_path=logo)
    remote = LetterTemplate('<p>$site_logo</p><img src="http://127.0.0.1:9/x.png"><p>$lay_summary</p>')
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = render_letter_pdf("d", patient_name="X", exam_date=EXAM, letterhead=site, template=remote)
    images = [image for page in PdfReader(io.BytesIO(pdf)).pages for image in page.images]
    assert len(images) == 1  # the local logo, not the remote image
    assert "disallowed protocol" in caplog.text
    assert DENSE in _pdf_text(pdf)
