"""Injected faults: 5xx before or after the work is done, and answers that never come in time."""

import time

import pytest
import requests
from kiteconnect import exceptions as kite_errors

from tests.conftest import buy


def arm(paper, **fault) -> list:
    response = requests.post(f"{paper.url}/admin/faults", json=fault, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_a_503_before_the_work_places_nothing(paper):
    arm(paper, endpoint="POST /orders/regular", status=503, times=2)
    for _ in range(2):
        with pytest.raises(kite_errors.NetworkException) as raised:
            buy(paper.kite, "SBIN", 1)
        assert raised.value.code == 503
    assert paper.kite.orders() == []
    buy(paper.kite, "SBIN", 1)
    assert len(paper.kite.orders()) == 1


def test_an_order_placed_whose_answer_is_lost_is_in_the_order_book(paper):
    arm(paper, endpoint="POST /orders/regular", status=502, when="after")
    with pytest.raises(kite_errors.DataException):
        buy(paper.kite, "SBIN", 3, tag="run7")
    [order] = paper.kite.orders()
    assert (order["tag"], order["status"], order["filled_quantity"]) == ("run7", "COMPLETE", 3)


def test_a_timeout_after_placing_leaves_the_order_placed(paper):
    arm(paper, endpoint="POST /orders/regular", delay=1.0, when="after", status=504)
    paper.kite.timeout = 0.3
    with pytest.raises(requests.exceptions.ReadTimeout):
        buy(paper.kite, "SBIN", 2, tag="slow")
    paper.kite.timeout = 7
    assert [o["tag"] for o in paper.kite.orders()] == ["slow"]


def test_a_timeout_before_placing_places_nothing(paper):
    arm(paper, endpoint="POST /orders/regular", delay=0.6, status=504)
    paper.kite.timeout = 0.2
    with pytest.raises(requests.exceptions.ReadTimeout):
        buy(paper.kite, "SBIN", 2)
    paper.kite.timeout = 7
    time.sleep(0.6)  # let the stalled request finish on the server
    assert paper.kite.orders() == []


def test_faults_can_target_any_endpoint_and_be_listed_and_cleared(paper):
    pending = arm(paper, endpoint="get /portfolio/holdings", status=500, times=3)
    assert pending == [
        {"endpoint": "GET /portfolio/holdings", "times": 3, "status": 500, "delay": 0.0, "when": "before"}
    ]
    with pytest.raises(kite_errors.GeneralException) as raised:
        paper.kite.holdings()
    assert raised.value.code == 500
    assert requests.get(f"{paper.url}/admin/faults", timeout=5).json()["data"][0]["times"] == 2
    requests.delete(f"{paper.url}/admin/faults", timeout=5)
    assert paper.kite.holdings()


def test_faults_can_be_armed_from_the_account_file(make_paper):
    paper = make_paper(faults=[{"endpoint": "GET /user/margins", "status": 503}])
    with pytest.raises(kite_errors.NetworkException):
        paper.kite.margins()
    assert paper.kite.margins()["equity"]["net"] == 100000


@pytest.mark.parametrize(
    "body",
    [
        {"endpoint": "orders"},
        {"endpoint": "POST /orders/regular", "status": 200},
        {"endpoint": "GET /x", "when": "later"},
    ],
)
def test_bad_fault_requests_are_refused(paper, body):
    response = requests.post(f"{paper.url}/admin/faults", json=body, timeout=5)
    assert response.status_code == 400
    assert response.json()["error_type"] == "InputException"
