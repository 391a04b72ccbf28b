"""Prompts as YAML files in this package, so that a prompt change is a reviewed diff.

Each file names its model, thinking level, tools, response schema, and the system and user texts
with `{NAME}` placeholders. A prompt's hash (of its file) is recorded with every call made with it.

Gemini 3 models take a thinking level (`thinkingLevel`) and are meant to run at their default
temperature of 1.0: Google's Gemini 3 guides warn that a lower temperature can make them loop or
reason worse, so they get no temperature and no thinking budget. A model before Gemini 3 (chosen
with GEMINI_MODEL, e.g. gemini-2.5-flash) refuses a thinking level; it gets the file's
`temperature` and `thinking_budget` instead.
"""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from typing import Literal

import yaml
from google.genai import types
from pydantic import BaseModel, ConfigDict, Field

from niftybaskets.research.schemas import SCHEMAS

PLACEHOLDER = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")
# gemini-1.x / gemini-2.x; any other name (gemini-3.8-flash, gemini-flash-latest...) follows Gemini 3's rules.
BEFORE_GEMINI_3 = re.compile(r"^(?:models/)?gemini-[12](?:[.-]|$)")


def before_gemini_3(model: str) -> bool:
    return bool(BEFORE_GEMINI_3.match(model))


class Prompt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    model: str
    # Gemini 3 and later: MINIMAL is refused by some (gemini-3.8-flash answers 400), so the files avoid it.
    thinking_level: Literal["minimal", "low", "medium", "high"] | None = None
    # Models before Gemini 3 only (see the module's docstring).
    temperature: float | None = Field(default=None, ge=0, le=2)
    thinking_budget: int | None = None
    tools: list[Literal["google_search"]] = []
    response_schema: str | None = None
    system: str
    user: str
    digest: str = ""

    def render(self, **params: object) -> str:
        def value(match: re.Match) -> str:
            name = match.group(1)
            if name not in params:
                raise KeyError(f"prompt {self.name} needs {{{name}}}")
            return str(params[name])

        return PLACEHOLDER.sub(value, self.user)

    def settings(self) -> dict:
        """The sampling and thinking settings sent to this prompt's model (None: not sent)."""
        if before_gemini_3(self.model):
            return {"temperature": self.temperature, "thinking_budget": self.thinking_budget, "thinking_level": None}
        return {"temperature": None, "thinking_budget": None, "thinking_level": self.thinking_level}

    def config(self, *, tools: bool = True, schema: bool = True) -> types.GenerateContentConfig:
        """The call's configuration; `tools` / `schema` off serve the two-phase fallback."""
        sent = self.settings()
        thinking = None
        if sent["thinking_level"] is not None:
            thinking = types.ThinkingConfig(thinking_level=sent["thinking_level"])
        elif sent["thinking_budget"] is not None:
            thinking = types.ThinkingConfig(thinking_budget=sent["thinking_budget"])
        return types.GenerateContentConfig(
            system_instruction=self.system,
            temperature=sent["temperature"],
            thinking_config=thinking,
            tools=[types.Tool(google_search=types.GoogleSearch())] if tools and self.tools else None,
            response_mime_type="application/json" if schema and self.response_schema else None,
            response_schema=SCHEMAS[self.response_schema] if schema and self.response_schema else None,
        )


def load_prompt(name: str, model: str = "") -> Prompt:
    """The prompt file `name`; `model`, when given, replaces the model it names."""
    text = (resources.files("niftybaskets.research") / "prompts" / f"{name}.yaml").read_text(encoding="utf-8")
    prompt = Prompt.model_validate({**yaml.safe_load(text), "digest": hashlib.sha256(text.encode()).hexdigest()[:16]})
    if prompt.response_schema and prompt.response_schema not in SCHEMAS:
        raise ValueError(f"prompt {name}: unknown response_schema {prompt.response_schema}")
    return prompt.model_copy(update={"model": model}) if model else prompt
