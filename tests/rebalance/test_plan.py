"""The planner: exact least deficit under the funds, checked against brute force and as properties."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from niftybaskets.kite.portfolio import Portfolio
from niftybaskets.rebalance.plan import TOLERANCE, plan_rebalance, total_deficit


def portfolio(quantities, prices, cash, settled=None, blocked=0.0):
    return Portfolio(quantities, prices, cash, blocked, quantities if settled is None else settled)


def spend_and_freed(plan, settled):
    spent = sum(o.value for o in plan.orders if o.side == "BUY")
    freed = sum(min(o.quantity, settled.get(o.symbol, 0)) * o.price for o in plan.orders if o.side == "SELL")
    return spent, freed


def test_a_simple_rebalance_sells_what_is_out_and_buys_what_is_in():
    plan = plan_rebalance(portfolio({"OLD": 10}, {"OLD": 100, "A": 50, "B": 25}, 0.0), {"A": 0.5, "B": 0.5})
    assert [(o.side, o.symbol, o.quantity) for o in plan.orders] == [
        ("SELL", "OLD", 10),
        ("BUY", "A", 10),
        ("BUY", "B", 20),
    ]
    assert plan.deficit_before == 2000 and plan.deficit_after == 0


def test_sells_come_first_then_buys_each_by_largest_deficit():
    prices = {"X": 10, "Y": 10, "A": 10, "B": 10}
    plan = plan_rebalance(portfolio({"X": 30, "Y": 50}, prices, 0.0), {"A": 0.75, "B": 0.25})
    assert [(o.side, o.symbol) for o in plan.orders] == [("SELL", "Y"), ("SELL", "X"), ("BUY", "A"), ("BUY", "B")]


def test_t1_sale_money_is_not_spent_today():
    # 10 shares of OLD, all T1: selling them frees nothing today.
    plan = plan_rebalance(portfolio({"OLD": 10}, {"OLD": 100, "A": 100}, 0.0, settled={}), {"A": 1.0})
    assert [(o.side, o.symbol) for o in plan.orders] == [("SELL", "OLD")]
    assert plan.deficit_after == 1000 + 0  # A still needs ₹1000; the sale money arrives tomorrow


def test_min_order_value_and_frozen_stocks():
    prices = {"A": 100, "B": 100}
    small = plan_rebalance(portfolio({"A": 10, "B": 9}, prices, 100.0), {"A": 0.5, "B": 0.5}, min_order_value=150)
    assert small.orders == []
    plan = plan_rebalance(portfolio({"A": 10}, prices, 1000.0), {"A": 0.5, "B": 0.5}, frozen={"B"})
    assert all(o.symbol != "B" for o in plan.orders)


def test_the_cash_buffer_is_kept():
    plan = plan_rebalance(portfolio({}, {"A": 100}, 1000.0), {"A": 1.0}, cash_buffer=0.005)
    assert plan.orders[0].quantity == 9  # 10 shares would need ₹1005


def test_selling_an_underweight_stock_can_fund_a_better_plan():
    # B is a little underweight, but selling one B frees what the fourth D needs.
    prices = {"A": 510, "B": 50, "D": 97}
    weights = {"D": 0.4059990296514248, "B": 0.13036007983580694, "A": 0.4636408905127683}
    plan = plan_rebalance(portfolio({"B": 2, "C": 5}, {**prices, "C": 97}, 400.0), weights)
    assert ("SELL", "B", 1) in [(o.side, o.symbol, o.quantity) for o in plan.orders]
    assert plan.deficit_after == pytest.approx(143.6274, abs=1e-3)


def brute_force(pf, weights):
    value = pf.total
    targets = {s: w * value for s, w in weights.items() if w > 0}
    symbols = sorted(set(targets) | set(pf.quantities))
    choices = []
    for symbol in symbols:
        held = pf.quantities.get(symbol, 0)
        if symbol not in targets:
            choices.append([0])
        else:
            choices.append(range(0, max(held, int(targets[symbol] / pf.prices[symbol]) + 2) + 1))
    best = None
    for quantities in itertools.product(*choices):
        spent = freed = 0.0
        for symbol, quantity in zip(symbols, quantities, strict=True):
            held = pf.quantities.get(symbol, 0)
            if quantity > held:
                spent += (quantity - held) * pf.prices[symbol]
            else:
                freed += min(held - quantity, pf.settled.get(symbol, 0)) * pf.prices[symbol]
        if spent <= pf.cash + freed + 1e-9:
            deficit = total_deficit(dict(zip(symbols, quantities, strict=True)), pf.prices, targets)
            best = deficit if best is None else min(best, deficit)
    return best


small_accounts = st.builds(
    lambda held, prices, settled_share, cash, basket, raw: (
        portfolio(
            {s: q for s, q in held.items() if q},
            prices,
            cash,
            settled={s: int(q * settled_share) for s, q in held.items()},
        ),
        {s: r / sum(raw[: len(basket)]) for s, r in zip(basket, raw, strict=False)},
    ),
    st.fixed_dictionaries({s: st.integers(0, 4) for s in "ABCD"}),
    st.fixed_dictionaries({s: st.sampled_from([50, 97, 120, 333, 510]) for s in "ABCD"}),
    st.sampled_from([0.0, 0.5, 1.0]),
    st.sampled_from([0.0, 100.0, 400.0, 1500.0]),
    st.lists(st.sampled_from("ABCD"), min_size=1, max_size=3, unique=True),
    st.lists(st.integers(1, 10), min_size=3, max_size=3),
)


@settings(max_examples=150, deadline=None)
@given(small_accounts)
def test_the_plan_is_the_exact_optimum(case):
    pf, weights = case
    plan = plan_rebalance(pf, weights)
    least = brute_force(pf, weights)
    assert least - 1e-6 <= plan.deficit_after <= least + TOLERANCE


@settings(max_examples=400, deadline=None)
@given(small_accounts, st.sampled_from([0.0, 150.0]))
def test_properties_never_oversell_never_overspend_never_worse_and_deterministic(case, min_order_value):
    pf, weights = case
    plan = plan_rebalance(pf, weights, min_order_value=min_order_value)
    sold = {o.symbol: o.quantity for o in plan.orders if o.side == "SELL"}
    assert all(quantity <= pf.quantities.get(symbol, 0) for symbol, quantity in sold.items())
    spent, freed = spend_and_freed(plan, pf.settled)
    assert spent <= max(pf.cash, 0) + freed + 1e-6
    assert plan.deficit_after <= plan.deficit_before + 1e-6
    assert all(o.value >= min_order_value for o in plan.orders)
    assert all(o.quantity > 0 for o in plan.orders)
    assert len({o.symbol for o in plan.orders}) == len(plan.orders)  # one order per stock, one way
    assert plan_rebalance(pf, weights, min_order_value=min_order_value) == plan
