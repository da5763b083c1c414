"""Model providers behind one small interface: Anthropic, any OpenAI-compatible endpoint, or none.

Each provider returns the text and token counts of one completion, or raises `ProviderError`
saying whether trying again can help. The SDKs' own retries are off (Inngest owns retries: a
retryable error is raised inside the step, which the platform retries) and every call has an
explicit timeout. The SDKs are handed the app's `httpx.AsyncClient`, so respx pins them in tests.
They are imported only when their provider is built: importing both costs seconds at start-up,
which `make dev` with the template provider should not pay.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from inngest_app.skills.library import Skill

if TYPE_CHECKING:
    import anthropic
    import openai

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})
MAX_RETRY_AFTER_S = 300.0


class ProviderError(Exception):
    """A completion failed; `retryable` says whether the platform should try again."""

    def __init__(
        self, message: str, *, retryable: bool, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after_s = retry_after_s


@dataclasses.dataclass(frozen=True)
class Completion:
    """One model answer."""

    text: str
    tokens_in: int
    tokens_out: int
    provider: str
    model: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable (a step's output)."""
        return dataclasses.asdict(self)


class Provider(Protocol):
    """Turns a prompt into a completion."""

    name: str

    async def complete(
        self, *, skill: Skill, model: str, prompt: str, max_tokens: int
    ) -> Completion:
        """One completion of `prompt` (the skill gives the system prompt)."""
        ...


def is_retryable(status: int, error_type: str | None, message: str | None) -> bool:
    """Rate limits, overload and server faults are worth retrying; auth and bad requests not."""
    text = f"{error_type or ''} {message or ''}".lower()
    return status in RETRYABLE_STATUSES or status >= 500 or "overloaded" in text


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """`Retry-After` in seconds (numeric form only), capped; None when absent or unusable."""
    raw = headers.get("retry-after")
    try:
        value = float(raw) if raw is not None else None
    except ValueError:
        return None
    if value is None or value < 0:
        return None
    return min(value, MAX_RETRY_AFTER_S)


def _error_details(body: object) -> tuple[str | None, str | None]:
    """(type, message) from an Anthropic `{"type":"error","error":{...}}` or an OpenAI
    `{"error":{...}}` body (the OpenAI SDK hands over the inner object already)."""
    if not isinstance(body, dict):
        return None, None
    inner = body.get("error", body)
    if not isinstance(inner, dict):
        return None, str(inner) if inner else None
    kind, message = inner.get("type") or inner.get("code"), inner.get("message")
    return (str(kind) if kind else None), (str(message) if message else None)


def status_error(
    provider: str, status: int, body: object, headers: Mapping[str, str]
) -> ProviderError:
    """The `ProviderError` for an HTTP error answer."""
    kind, message = _error_details(body)
    retryable = is_retryable(status, kind, message)
    text = f"{provider} answered {status}" + (f" {kind}" if kind else "")
    if message:
        text += f": {message[:500]}"
    return ProviderError(
        text, retryable=retryable, retry_after_s=retry_after_s(headers) if retryable else None
    )


class AnthropicProvider:
    """Claude through the official `anthropic` package (Messages API)."""

    name = "anthropic"

    def __init__(
        self, *, api_key: str, http: httpx.AsyncClient, timeout_s: float, base_url: str | None
    ) -> None:
        self._sdk: Any = importlib.import_module("anthropic")
        self._client: anthropic.AsyncAnthropic = self._sdk.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            http_client=http,
        )

    async def complete(
        self, *, skill: Skill, model: str, prompt: str, max_tokens: int
    ) -> Completion:
        sdk = self._sdk
        try:
            message = await self._client.messages.create(
                model=model,
                max_tokens=max_tokens,
                system=skill.system if skill.system else sdk.omit,
                messages=[{"role": "user", "content": prompt}],
            )
        except sdk.APIStatusError as exc:
            raise status_error(self.name, exc.status_code, exc.body, exc.response.headers) from None
        except sdk.APIConnectionError as exc:  # includes timeouts
            raise ProviderError(
                f"{self.name} unreachable: {type(exc).__name__}", retryable=True
            ) from None
        text = "".join(block.text for block in message.content if block.type == "text")
        return Completion(
            text=text,
            tokens_in=message.usage.input_tokens,
            tokens_out=message.usage.output_tokens,
            provider=self.name,
            model=message.model,
        )


class OpenAIProvider:
    """Chat Completions through the official `openai` package: OpenAI or any compatible server."""

    name = "openai"

    def __init__(
        self,
        *,
        api_key: str | None,
        http: httpx.AsyncClient,
        timeout_s: float,
        base_url: str | None,
    ) -> None:
        self._sdk: Any = importlib.import_module("openai")
        self._client: openai.AsyncOpenAI = self._sdk.AsyncOpenAI(
            # local OpenAI-compatible servers take any key; the SDK insists on one
            api_key=api_key or "unused",
            base_url=base_url,
            max_retries=0,
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            http_client=http,
        )

    async def complete(
        self, *, skill: Skill, model: str, prompt: str, max_tokens: int
    ) -> Completion:
        messages: list[Any] = []
        if skill.system:
            messages.append({"role": "system", "content": skill.system})
        messages.append({"role": "user", "content": prompt})
        sdk = self._sdk
        try:
            answer = await self._client.chat.completions.create(
                model=model, messages=messages, max_tokens=max_tokens
            )
        except sdk.APIStatusError as exc:
            raise status_error(self.name, exc.status_code, exc.body, exc.response.headers) from None
        except sdk.APIConnectionError as exc:  # includes timeouts
            raise ProviderError(
                f"{self.name} unreachable: {type(exc).__name__}", retryable=True
            ) from None
        if not answer.choices:
            raise ProviderError(f"{self.name} answered no choices", retryable=True)
        usage = answer.usage
        return Completion(
            text=answer.choices[0].message.content or "",
            tokens_in=usage.prompt_tokens if usage else 0,
            tokens_out=usage.completion_tokens if usage else 0,
            provider=self.name,
            model=answer.model or model,
        )


TEMPLATE_NOTICE = (
    "> Rendered by the template provider: no model is configured, so this is the skill's "
    "prompt, not a model's answer."
)


class TemplateProvider:
    """No model: the rendered prompt itself, labelled as such (offline development)."""

    name = "template"

    async def complete(
        self, *, skill: Skill, model: str, prompt: str, max_tokens: int
    ) -> Completion:
        text = f"# {skill.name} (template)\n\n{TEMPLATE_NOTICE}\n\n{prompt}"
        return Completion(text=text, tokens_in=0, tokens_out=0, provider=self.name, model="none")
