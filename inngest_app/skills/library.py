"""Skill files: YAML front matter and a prompt template, one Markdown file per skill.

    ---
    name: marketing-brief
    description: ...
    model: claude-sonnet-4-5
    max_tokens: 2048          # optional
    active: true              # optional
    defaults: {tone: professional}   # the options a template may use, with their defaults
    system: ...               # optional system prompt
    ---
    Write a brief{{ client_clause }} about {{ message }}. Tone: {{ options.tone }}.

Placeholders: `message`, `date`, `client` (the client's name or empty), `client_clause`
(" for <client>" or empty) and `options.<key>` for each key of `defaults`. A file naming any
other placeholder, or malformed in any way, is refused at load time with its path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from inngest_app.events import describe_validation_error

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?)\s*\}\}")
_FIXED = frozenset({"message", "date", "client", "client_clause"})
MAX_SKILL_FILES = 200
MAX_SKILL_FILE_BYTES = 64 * 1024

OptionValue = str | int | float | bool


class SkillFileError(ValueError):
    """A skill file cannot be used; the message names the file and the problem."""


class Skill(BaseModel):
    """One skill, as its file describes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    description: str = Field("", max_length=500)
    model: str = Field(min_length=1, max_length=200)
    max_tokens: int | None = Field(None, ge=1, le=64_000)
    active: bool = True
    defaults: dict[str, OptionValue] = Field(default_factory=dict)
    system: str | None = Field(None, max_length=8000)
    prompt_template: str = Field(min_length=1)

    def placeholders(self) -> set[str]:
        """Every placeholder the template names."""
        return set(_PLACEHOLDER.findall(self.prompt_template))

    def render(
        self,
        *,
        message: str,
        date: str,
        client: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> str:
        """The prompt for one run: options override the skill's defaults."""
        given = {k: v for k, v in (options or {}).items() if k in self.defaults}
        merged = {**self.defaults, **given}
        values = {
            "message": message,
            "date": date,
            "client": client or "",
            "client_clause": f" for {client}" if client else "",
            **{f"options.{key}": str(value) for key, value in merged.items()},
        }
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), self.prompt_template)


def parse_skill(text: str, *, source: str) -> Skill:
    """A skill from a file's text; `SkillFileError` naming `source` if it is not valid."""
    if not text.startswith("---\n"):
        raise SkillFileError(f"{source}: must start with a '---' front matter block")
    head, sep, body = text[4:].partition("\n---\n")
    if not sep:
        raise SkillFileError(f"{source}: the front matter block is not closed with '---'")
    try:
        meta = yaml.safe_load(head)
    except yaml.YAMLError as exc:
        raise SkillFileError(f"{source}: front matter is not valid YAML ({exc})") from None
    if not isinstance(meta, dict):
        raise SkillFileError(f"{source}: front matter must be a mapping")
    try:
        skill = Skill.model_validate({**meta, "prompt_template": body.strip() + "\n"})
    except ValidationError as exc:
        raise SkillFileError(f"{source}: {describe_validation_error(exc)}") from None
    unknown = {
        p
        for p in skill.placeholders()
        if p not in _FIXED and not (p.startswith("options.") and p[8:] in skill.defaults)
    }
    if unknown:
        raise SkillFileError(
            f"{source}: unknown placeholders {sorted(unknown)} (options need a default)"
        )
    return skill


def load_library(folder: Path) -> dict[str, Skill]:
    """Every `*.md` skill in `folder`, by name; duplicate names and bad files are errors."""
    if not folder.is_dir():
        raise SkillFileError(f"{folder}: the skills folder does not exist")
    files = sorted(folder.glob("*.md"))
    if len(files) > MAX_SKILL_FILES:
        raise SkillFileError(f"{folder}: more than {MAX_SKILL_FILES} skill files")
    skills: dict[str, Skill] = {}
    for path in files:
        if path.stat().st_size > MAX_SKILL_FILE_BYTES:
            raise SkillFileError(f"{path}: larger than {MAX_SKILL_FILE_BYTES} bytes")
        skill = parse_skill(path.read_text(encoding="utf-8"), source=str(path))
        if skill.name in skills:
            raise SkillFileError(f"{path}: skill {skill.name!r} is defined twice")
        skills[skill.name] = skill
    return skills
