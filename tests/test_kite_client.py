import pytest
import requests
from kiteconnect import exceptions as kite_errors

from niftybaskets.kite.client import is_transient


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (requests.ConnectionError(), True),
        (requests.exceptions.ChunkedEncodingError(), True),
        (kite_errors.NetworkException("Too many requests", code=429), True),
        (kite_errors.OrderException("Gateway timed out", code=504), True),  # may still have placed the order
        (kite_errors.GeneralException("Insufficient funds", code=400), False),
        (kite_errors.InputException("Invalid `quantity`", code=400), False),
        (kite_errors.TokenException("Incorrect `api_key` or `access_token`.", code=403), False),
        (ValueError("a bug"), False),
    ],
)
def test_what_is_worth_asking_again(error, transient):
    assert is_transient(error) is transient
