"""Prompts as YAML files in this package, so that a prompt change is a reviewed diff.

Each file names its model, temperature, thinking budget, tools, response schema, and the system
and user texts with `{NAME}` placeholders. A prompt's hash (of its file) is recorded with every
call made with it.
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


class Prompt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    model: str
    temperature: float = Field(ge=0, le=2)
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

    def config(self, *, tools: bool = True, schema: bool = True) -> types.GenerateContentConfig:
        """The call's configuration; `tools` / `schema` off serve the two-phase fallback."""
        return types.GenerateContentConfig(
            system_instruction=self.system,
            temperature=self.temperature,
            thinking_config=types.ThinkingConfig(thinking_budget=self.thinking_budget)
            if self.thinking_budget is not None
            else None,
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
