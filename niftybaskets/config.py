"""One settings object, read from the environment and an optional `.env` file.

Names and defaults are the contract in DESIGN.md; secrets are `SecretStr` so a settings object
never prints them.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_KITE_API_ROOT = "https://api.kite.trade"
DEFAULT_NSE_BASE_URL = "https://www.nseindia.com"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    kite_api_key: str = ""
    kite_api_secret: SecretStr = SecretStr("")
    kite_api_root: str = DEFAULT_KITE_API_ROOT
    nse_base_url: str = DEFAULT_NSE_BASE_URL
    data_dir: Path = Path("data")
    nse_extra_holidays: Annotated[list[date], NoDecode] = []

    @field_validator("nse_extra_holidays", mode="before")
    @classmethod
    def _split_dates(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class ConfigError(ValueError):
    """A setting cannot be used; the message names it and the expected form."""


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"{str(issue['loc'][0]).upper()}: {issue['msg']}" for issue in error.errors() if issue["loc"]
        )
        raise ConfigError(f"bad setting in the environment or .env: {problems}") from None
