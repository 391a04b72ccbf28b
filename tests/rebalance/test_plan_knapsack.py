"""The planner's multiple-choice knapsack on its own: exact against brute force, and honest at its limit."""

import itertools
import random

import pytest

from niftybaskets.rebalance.knapsack import Infeasible, Run, solve


def seeded(seed):
    return random.Random(seed)  # noqa: S311 - reproducible cases, not secrets


def options(run):
    return [run.at(step) for step in range(run.count)]


def brute_force(classes, budget):
    best = None
    for choice in itertools.product(*[[point for run in runs for point in options(run)] for runs in classes]):
        if sum(money for money, _ in choice) <= budget:
            value = sum(value for _, value in choice)
            best = value if best is None else min(best, value)
    return best


def random_class(rng):
    runs = [Run(0, rng.randint(0, 50))]  # every class can stay as it is, for nothing
    for _ in range(rng.randint(1, 3)):
        runs.append(
            Run(
                rng.randint(-30, 60),
                rng.randint(-40, 60),
                rng.choice([0, rng.randint(1, 25)]),
                rng.randint(-30, 20),
                rng.randint(1, 5),
            )
        )
    return runs


@pytest.mark.parametrize("seed", range(3))
def test_the_least_value_within_the_budget(seed):
    rng = seeded(seed)
    for _ in range(120):
        classes = [random_class(rng) for _ in range(rng.randint(1, 5))]
        budget = rng.randint(0, 120)
        solution = solve(classes, budget)
        chosen = [classes[n][run].at(step) for n, (run, step) in enumerate(solution.choices)]
        assert sum(money for money, _ in chosen) <= budget
        assert sum(value for _, value in chosen) == pytest.approx(solution.value)
        assert solution.proven and solution.value == pytest.approx(brute_force(classes, budget))
        assert solution.bound <= solution.value + 1e-9


def test_a_zero_one_knapsack_is_solved_exactly():
    # Take an item (its weight, minus its profit) or leave it (nothing): the best profit within 165.
    weights = [23, 31, 29, 44, 53, 38, 63, 85, 89, 82]
    profits = [92, 57, 49, 68, 60, 43, 67, 84, 87, 72]
    classes = [[Run(0, 0), Run(w, -p)] for w, p in zip(weights, profits, strict=True)]
    best = max(
        sum(p for p, take in zip(profits, takes, strict=True) if take)
        for takes in itertools.product([0, 1], repeat=len(weights))
        if sum(w for w, take in zip(weights, takes, strict=True) if take) <= 165
    )
    solution = solve(classes, 165)
    assert solution.proven and solution.value == -best


def test_a_search_stopped_at_its_limit_says_so():
    # A strongly correlated knapsack (profit = weight + 100): a classic hard case for branch and bound.
    rng = seeded(1)
    weights = [rng.randint(100, 1000) for _ in range(40)]
    classes = [[Run(0, 0), Run(weight, -(weight + 100))] for weight in weights]
    budget = sum(weights) // 2
    stopped, finished = solve(classes, budget, node_limit=1), solve(classes, budget)
    assert finished.proven and not stopped.proven and stopped.nodes > 1
    assert stopped.value >= finished.value and stopped.money <= budget


def test_nearly_collinear_options_never_overspend():
    # Three options of one class on a line but for rounding: the LP must not take its edges out of order.
    classes = [
        [Run(0.0, 280.9859915333409)],
        [Run(0.0, 539.8749102705206), Run(511.0, 30.69339472852056), Run(584.0, 46.20335768147944)],
        [
            Run(0.0, 723.1110812628249),
            Run(507.0, 217.9153310088249, 169.0, -168.39858341800002, 2),
            Run(845.0, 124.89600164717511),
        ],
    ]
    solution = solve(classes, 982.0)
    assert solution.money <= 982.0
    assert solution.value == pytest.approx(brute_force(classes, 982.0))


def test_no_money_for_the_cheapest_choice_is_infeasible():
    with pytest.raises(Infeasible):
        solve([[Run(10, 0)], [Run(5, 0), Run(7, -1)]], 12)
