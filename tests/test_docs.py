"""The documentation as a newcomer meets it: a README under 10 KB that links every file of
`docs/`, links that lead somewhere (files and headings), every setting documented, and no page
naming the issue that asked for it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from inngest_app.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS, ROOT / "migrations" / "README.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)|\bsrc=\"([^\"]+)\"")
# "issue 9", "issues 20-24", "(issue #16)", "#20", "PR #3", "the report to #23"
ISSUE_REFERENCE = re.compile(r"\b(?:issues?|PR)\s*#?\d+|(?<![\w&/])#\d+\b", re.IGNORECASE)


def _text(page: Path) -> str:
    return page.read_text(encoding="utf-8")


def _without_code_blocks(text: str) -> str:
    return re.sub(r"^```.*?^```$", "", text, flags=re.MULTILINE | re.DOTALL)


def _anchor(heading: str) -> str:
    """GitHub's id for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    headings = re.findall(r"^#{1,6} (.+)$", _without_code_blocks(_text(page)), re.MULTILINE)
    return {_anchor(heading) for heading in headings}


def _links(page: Path) -> list[str]:
    text = _without_code_blocks(_text(page))
    return [a or b for a, b in LINK.findall(text)]


def test_the_readme_is_a_front_door_under_10_kb() -> None:
    assert len(README.read_bytes()) < 10 * 1024
    text = _text(README)
    for command in ("make dev", "make test"):
        assert f"\n{command} " in text  # the two commands, in the first block


def test_the_readme_links_every_doc() -> None:
    linked = {link.split("#")[0] for link in _links(README)}
    assert DOCS, "docs/ holds the manual"
    assert [f"docs/{doc.name}" for doc in DOCS if f"docs/{doc.name}" not in linked] == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_link_leads_to_a_file_and_heading(page: Path) -> None:
    broken = []
    for link in _links(page):
        if re.match(r"^[a-z]+:", link):  # http(s), mailto: not this test's business
            continue
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists() or (anchor and path.suffix == ".md" and anchor not in _anchors(path)):
            broken.append(link)
    assert broken == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_no_page_names_the_issue_that_asked_for_it(page: Path) -> None:
    assert ISSUE_REFERENCE.findall(_text(page)) == []


def test_every_setting_has_a_row_in_the_configuration_doc() -> None:
    rows = [
        line for line in _text(ROOT / "docs" / "configuration.md").splitlines() if line[:2] == "| "
    ]
    table = "\n".join(rows)
    missing = [
        name.upper()
        for name in Settings.model_fields
        if not re.search(rf"`{name.upper()}(?:`|__<)", table)
    ]
    assert missing == []


def test_the_checks_above_can_fail(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\nSee [there](missing.md), [here](#title), [no](#nowhere).\n")
    assert _links(page) == ["missing.md", "#title", "#nowhere"]
    assert _anchors(page) == {"title"}
    assert _anchor("Load figures (`python -m bench load`)") == "load-figures-python--m-bench-load"
    for named in ("(issue 9)", "issue #20", "see the report to #23", "issues 20-24"):
        assert ISSUE_REFERENCE.search(named), named
    for fine in ("`#range=7`", "#run=<id>", "&#160;", "/pull/12#discussion", "5 issues"):
        assert not ISSUE_REFERENCE.search(fine), fine
