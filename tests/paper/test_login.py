"""Login and sessions: /connect/login, /session/token, expiry and logout, through the SDK."""

import hashlib

import pytest
import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors

from tests.conftest import request_token


def test_login_page_redirects_to_the_app_with_a_request_token_and_redirect_params(paper):
    location, query = request_token(paper.url, redirect_params="state=abc123&x=1")
    assert location.startswith("http://127.0.0.1:8080/callback?")
    assert query["status"] == "success" and query["action"] == "login"
    assert len(query["request_token"]) == 32
    assert query["state"] == "abc123" and query["x"] == "1"


def test_login_page_refuses_an_unknown_api_key(paper):
    response = requests.get(f"{paper.url}/connect/login", params={"api_key": "nope", "v": 3}, timeout=5)
    assert response.status_code == 400
    assert response.json()["error_type"] == "InputException"


def test_generate_session_returns_kite_shaped_data_and_a_working_token(paper):
    _, query = request_token(paper.url)
    kite = KiteConnect("paperkey", root=paper.url)
    data = kite.generate_session(query["request_token"], "papersecret")
    assert data["user_id"] == "ZP0001"
    assert len(data["access_token"]) == 32 and data["access_token"] != data["public_token"]
    assert data["login_time"].year == 2026  # the SDK parsed Kite's timestamp format
    assert kite.profile()["user_id"] == "ZP0001"


def test_a_wrong_checksum_is_a_token_exception_and_keeps_the_request_token_usable(paper):
    _, query = request_token(paper.url)
    with pytest.raises(kite_errors.TokenException, match="checksum"):
        KiteConnect("paperkey", root=paper.url).generate_session(query["request_token"], "wrong-secret")
    KiteConnect("paperkey", root=paper.url).generate_session(query["request_token"], "papersecret")


def test_a_request_token_is_single_use(paper):
    _, query = request_token(paper.url)
    KiteConnect("paperkey", root=paper.url).generate_session(query["request_token"], "papersecret")
    with pytest.raises(kite_errors.TokenException, match="invalid or has expired"):
        KiteConnect("paperkey", root=paper.url).generate_session(query["request_token"], "papersecret")


def test_a_late_request_token_exchange_fails(paper):
    _, query = request_token(paper.url)
    paper.clock.advance(seconds=301)
    with pytest.raises(kite_errors.TokenException):
        KiteConnect("paperkey", root=paper.url).generate_session(query["request_token"], "papersecret")


def test_session_token_needs_its_fields_and_a_known_api_key(paper):
    response = requests.post(f"{paper.url}/session/token", data={"api_key": "paperkey"}, timeout=5)
    assert response.status_code == 400
    assert response.json()["message"] == "Missing `request_token`, `checksum`."
    checksum = hashlib.sha256(b"nokeytokensecret").hexdigest()
    response = requests.post(
        f"{paper.url}/session/token",
        data={"api_key": "nokey", "request_token": "token", "checksum": checksum},
        timeout=5,
    )
    assert response.status_code == 403 and response.json()["error_type"] == "TokenException"


def test_the_access_token_dies_at_six_the_next_morning(paper):
    paper.clock.advance(hours=19, minutes=59)  # Tuesday 05:59 IST
    assert paper.kite.profile()["user_id"] == "ZP0001"
    paper.clock.advance(minutes=1)
    with pytest.raises(kite_errors.TokenException):
        paper.kite.profile()


def test_token_expiry_can_be_switched_off(make_paper, clock):
    paper = make_paper(rules={"token_expiry": False})
    clock.advance(days=3)
    assert paper.kite.profile()["user_id"] == "ZP0001"


def test_logout_invalidates_the_token(paper):
    assert paper.kite.invalidate_access_token() is True
    with pytest.raises(kite_errors.TokenException):
        paper.kite.holdings()


def test_admin_can_end_sessions_as_a_login_elsewhere_would(paper):
    response = requests.post(f"{paper.url}/admin/accounts/ZP0001/expire-sessions", timeout=5)
    assert response.json()["data"] == {"expired": 1}
    with pytest.raises(kite_errors.TokenException):
        paper.kite.margins()


@pytest.mark.parametrize(
    "header",
    [None, "Bearer x", "token paperkey", "token paperkey:", "token otherkey:{token}", "token paperkey:deadbeef"],
)
def test_calls_without_valid_credentials_get_403_token_exception(paper, header):
    headers = {"X-Kite-Version": "3"}
    if header:
        headers["Authorization"] = header.format(token=paper.kite.access_token)
    response = requests.get(f"{paper.url}/user/profile", headers=headers, timeout=5)
    assert response.status_code == 403
    assert response.json() == {
        "status": "error",
        "message": "Incorrect `api_key` or `access_token`.",
        "data": None,
        "error_type": "TokenException",
    }


def test_family_accounts_can_share_one_app_and_log_in_by_user_id(make_paper):
    paper = make_paper(accounts=[{"user_id": "ZP0002", "api_key": "paperkey", "api_secret": "papersecret"}])
    _, query = request_token(paper.url)
    first = KiteConnect("paperkey", root=paper.url)
    assert first.generate_session(query["request_token"], "papersecret")["user_id"] == "ZP0001"
    _, query = request_token(paper.url, user_id="ZP0002")
    second = KiteConnect("paperkey", root=paper.url)
    assert second.generate_session(query["request_token"], "papersecret")["user_id"] == "ZP0002"
    assert (first.profile()["user_id"], second.profile()["user_id"]) == ("ZP0001", "ZP0002")
    response = requests.get(
        f"{paper.url}/connect/login", params={"api_key": "paperkey", "user_id": "NOBODY"}, timeout=5
    )
    assert response.status_code == 400


def test_family_accounts_with_their_own_apps_see_only_their_own_books(make_paper):
    paper = make_paper(
        accounts=[{"user_id": "ZP0002", "api_key": "spousekey", "api_secret": "spousesecret", "cash": 5000}]
    )
    spouse = paper.embedded.login("ZP0002")
    assert spouse.profile()["user_id"] == "ZP0002"
    assert spouse.margins("equity")["net"] == 5000
    assert spouse.holdings() == []
    assert [h["tradingsymbol"] for h in paper.kite.holdings()] == ["INFY", "TCS"]
