"""Skill files: parsing, validation naming the file, rendering; the shipped skills load."""

from __future__ import annotations

from pathlib import Path

import pytest

from inngest_app.settings import DEFAULT_SKILLS_DIR
from inngest_app.skills.library import SkillFileError, load_library, parse_skill

GOOD = """---
name: brief
description: A brief.
model: claude-sonnet-4-5
defaults:
  tone: calm
---
Brief{{ client_clause }} on {{ date }}: {{message}}. Tone: {{ options.tone }}.
"""


def test_the_shipped_skills_load_and_render() -> None:
    library = load_library(DEFAULT_SKILLS_DIR)
    assert {"marketing-brief", "content-calendar", "social-posts"} <= set(library)
    for skill in library.values():
        prompt = skill.render(message="MSG", date="2026-12-01", client="Acme")
        assert "MSG" in prompt and "{{" not in prompt and "for Acme" in prompt


def test_render_uses_defaults_and_ignores_undeclared_options() -> None:
    skill = parse_skill(GOOD, source="brief.md")
    assert skill.render(message="go", date="2026-12-01") == (
        "Brief on 2026-12-01: go. Tone: calm.\n"
    )
    rendered = skill.render(
        message="go", date="d", client="Acme", options={"tone": "bold", "other": "x"}
    )
    assert rendered == "Brief for Acme on d: go. Tone: bold.\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("no front matter", "front matter"),
        ("---\nname: x\nmodel: m\nSay hi", "not closed"),
        ("---\n[oops\n---\nbody", "not valid YAML"),
        ("---\n- a\n---\nbody", "must be a mapping"),
        ("---\nname: Bad Name\nmodel: m\n---\nbody", "name"),
        ("---\nname: x\n---\nbody", "model"),
        ("---\nname: x\nmodel: m\nsurprise: 1\n---\nbody", "surprise"),
        ("---\nname: x\nmodel: m\n---\n{{ secret }}", "unknown placeholders ['secret']"),
        ("---\nname: x\nmodel: m\n---\n{{ options.tone }}", "options.tone"),
    ],
)
def test_bad_files_are_refused_naming_file_and_problem(text: str, problem: str) -> None:
    with pytest.raises(SkillFileError) as raised:
        parse_skill(text, source="skills/x.md")
    assert str(raised.value).startswith("skills/x.md: ")
    assert problem in str(raised.value)


def test_a_folder_with_a_duplicate_name_or_missing_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(GOOD)
    (tmp_path / "b.md").write_text(GOOD)
    with pytest.raises(SkillFileError, match="defined twice"):
        load_library(tmp_path)
    with pytest.raises(SkillFileError, match="does not exist"):
        load_library(tmp_path / "missing")
