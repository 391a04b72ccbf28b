"""What Gemini must answer, as pydantic models: sent as response schemas, checked on the way back.

Bounds are checked by validators, not Field(gt=...): google-genai cannot send those as a schema.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, Field, field_validator


class ForecastAnswer(BaseModel):
    horizon_days: int = Field(description="Days from today that the forecast is for, 1 to 365.")
    target_price: float = Field(description="The forecast share price in rupees at the horizon, above 0.")
    expected_gain_percent: float = Field(description="(target price / last price - 1) x 100, as you compute it.")
    reasoning: str = Field(description="Why, in 50 to 200 words, citing what the sources say.")
    sources: list[str] = Field(default_factory=list, description="https URLs of the pages relied on.")

    @field_validator("horizon_days")
    @classmethod
    def _horizon(cls, value: int) -> int:
        if not 1 <= value <= 365:
            raise ValueError(f"horizon_days {value} is not from 1 to 365")
        return value

    @field_validator("target_price")
    @classmethod
    def _positive(cls, value: float) -> float:
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"target_price {value} is not a number above 0")
        return value

    @field_validator("expected_gain_percent")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(f"expected_gain_percent {value} is not a number")
        return value

    @field_validator("reasoning")
    @classmethod
    def _length(cls, value: str) -> str:
        words = len(value.split())
        if not 50 <= words <= 200:
            raise ValueError(f"the reasoning has {words} words; 50 to 200 are needed")
        return value

    @field_validator("sources")
    @classmethod
    def _https(cls, value: list[str]) -> list[str]:
        # Only https URLs are kept; the published sources come from grounding metadata anyway.
        return [url for url in value if url.startswith("https://")]


class Pick(BaseModel):
    ticker: str = Field(description="One of the candidate tickers, exactly as given.")
    weight: float = Field(description="Share of the basket, above 0 and at most 1.")

    @field_validator("weight")
    @classmethod
    def _share(cls, value: float) -> float:
        if not 0 < value <= 1:
            raise ValueError(f"weight {value} is not above 0 and at most 1")
        return value


class BasketChoice(BaseModel):
    stocks: list[Pick] = Field(description="The chosen stocks with their weights, summing to 1.")
    reason_summary: str = Field(description="Why this basket: the thesis, the diversification, the risks.")


SCHEMAS: dict[str, type[BaseModel]] = {"ForecastAnswer": ForecastAnswer, "BasketChoice": BasketChoice}
