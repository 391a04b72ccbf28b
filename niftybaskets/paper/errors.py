"""Kite Connect's error envelope: an HTTP status, an `error_type` and a message."""

from __future__ import annotations

from niftybaskets.errors import NiftyError


class KiteError(NiftyError):
    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message

    def envelope(self) -> dict:
        return {"status": "error", "message": self.message, "data": None, "error_type": self.error_type}


def input_error(message: str) -> KiteError:
    return KiteError(400, "InputException", message)


def token_error(message: str = "Incorrect `api_key` or `access_token`.") -> KiteError:
    return KiteError(403, "TokenException", message)


def too_many_requests() -> KiteError:
    return KiteError(429, "NetworkException", "Too many requests")


# The error_type Kite pairs with each server-side status when something upstream fails.
ERROR_TYPE_BY_STATUS = {
    429: "NetworkException",
    500: "GeneralException",
    502: "DataException",
    503: "NetworkException",
    504: "NetworkException",
}
