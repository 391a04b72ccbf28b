"""An exact multiple-choice knapsack: one option from each class, one money limit, the least total value.

Each class lists its options as runs of evenly spaced points (a stock's holdings between two kinks of
its deficit, money or charges lie on a line), so a class with thousands of whole-share options is a
handful of runs. The solver is a branch and bound:

1. The LP relaxation: every class may mix its options, so only the lower convex hull of its points
   matters, and the greedy over hull edges by slope is the exact LP optimum (the classic MCKP bound,
   Sinha and Zoltners 1979). Its value is a lower bound; its slope at the break, `price`, is the
   optimal multiplier of the money limit.
2. First solutions: the LP's whole part with as much of the class it splits as the money left
   affords, then greedy moves; and that rounded LP with its classes moved among their options of no
   reduced cost (all of which trade money for value at the LP's rate) so as to spend the most, a
   subset sum solved by a bitset over the money.
3. Reduced-cost fixing: with the multiplier, any solution's value is
       bound + price * (money left) + sum over classes of (reduced cost of the chosen option),
   where an option's reduced cost, value + price * money - the class's least such sum, is never
   negative. So an option whose reduced cost exceeds (incumbent - bound) is in no better solution:
   it is dropped, exactly, and most classes are left with one option. The search first keeps only
   the options within a fraction of that gap, widening it until the best solution it finds lies
   within the gap searched (a better one would use only options it kept).
4. Depth-first search over the classes left, pruned by the LP bound of the classes not yet chosen
   for the money not yet spent (a convex function of the money, tabulated once per depth). When
   money is whole, the classes not yet chosen can only spend their cheapest choice plus whole
   multiples of the greatest common divisor of their options' differences, so the bound is taken at
   the most money they can really spend; classes off the grain most share are searched first. The
   finest classes are joined beforehand into one frontier of their combined choices (money rising,
   value falling: meet in the middle), so the last step of every branch is one binary search per option.

The answer's value is within `tolerance` of the least possible (up to rounding when it is 0), unless
the search ran into its node limit: then the best solution found is returned with `proven` false.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from niftybaskets.errors import NiftyError

NODE_LIMIT = 100_000  # branchings, a second or so; plans measured needed at most tens of thousands
WIDE = 24  # options in a class from which on numpy bounds them all at once
TAIL = 4096  # combined choices of the finest classes, searched by bisection at the end of each branch
WIDENING = 4.0
FILL_CELLS = 4_000_000  # grains of money the fill's bitset may span
ROUNDING = 1e-12  # relative: sums of money and value this close are equal


@dataclass(frozen=True)
class Run:
    """Options 0..count-1 of one class: option k costs `money + k * money_step` and is worth
    `value + k * value_step`."""

    money: float
    value: float
    money_step: float = 0.0
    value_step: float = 0.0
    count: int = 1

    def at(self, step: int) -> tuple[float, float]:
        return self.money + step * self.money_step, self.value + step * self.value_step


@dataclass(frozen=True)
class Solution:
    choices: list[tuple[int, int]]  # per class: (run, step)
    value: float
    money: float
    bound: float  # the LP relaxation's value: no solution is worth less
    proven: bool
    nodes: int


class Infeasible(NiftyError):
    """Even the cheapest option of every class costs more than the money there is."""


# A point of a class: (money, value, run, step).
Point = tuple[float, float, int, int]


def solve(
    classes: Sequence[Sequence[Run]],
    budget: float,
    *,
    tolerance: float = 0.0,
    grain: int = 1,
    node_limit: int = NODE_LIMIT,
) -> Solution:
    """The least total value choosing one option of every class, with total money at most `budget`;
    a solution better by less than `tolerance` may be missed. `grain` is a hint: most classes' options
    cost whole multiples of it apart, so those classes are searched last (see _Search)."""
    hulls = [_hull(_corners(runs)) for runs in classes]
    # Sums this close are equal: what adding up floats may be off by.
    slack = ROUNDING * (1.0 + abs(budget) + sum(abs(hull[0][0]) + abs(hull[-1][0]) for hull in hulls))
    tolerance = max(tolerance, ROUNDING * (1.0 + sum(abs(hull[0][1]) for hull in hulls)))
    least = sum(hull[0][0] for hull in hulls)
    if least > budget + slack:
        raise Infeasible(f"the cheapest choice costs {least:.2f}, more than the {budget:.2f} there is")
    bound, price, chosen, breaking = _relaxation(hulls, budget)
    points = [hull[index] for hull, index in zip(hulls, chosen, strict=True)]
    if breaking is None:  # the money does not bind: every class at its best is the optimum
        return _solution(points, bound, True, 0)
    # The LP's whole part, with as much of the class it takes part of as the money left affords.
    affordable = budget - sum(point[0] for point in points) + points[breaking][0]
    points[breaking] = min(_affordable(classes[breaking], affordable), key=lambda point: point[1])
    rounded = list(points)
    points = _improved(classes, points, budget)
    best = sum(point[1] for point in points)
    # The options of no reduced cost trade money for value at the same rate: the rounded LP, moved
    # among them to spend the most, may beat the greedy moves.
    even = [_within(runs, hull, price, tolerance)[0] for runs, hull in zip(classes, hulls, strict=True)]
    filled = _filled(rounded, even, budget + slack)
    if filled is not None and sum(point[1] for point in filled) < best:
        points, best = filled, sum(point[1] for point in filled)
    nodes = 0
    gap = (best - bound) / WIDENING**3
    while best - bound > tolerance:
        gap = min(gap * WIDENING, best - bound)
        kept, ends = zip(
            *(_within(runs, hull, price, gap + tolerance) for runs, hull in zip(classes, hulls, strict=True)),
            strict=True,
        )
        search = _Search(list(kept), list(ends), budget + slack, min(best, bound + gap + tolerance), tolerance, grain)
        found = search.run(node_limit - nodes)
        nodes += search.nodes
        if found is not None:
            points, best = found, sum(point[1] for point in found)
        if nodes > node_limit:
            return _solution(points, bound, False, nodes)
        if found is not None or gap >= best - bound:
            break
    return _solution(points, bound, True, nodes)


def _filled(start: list[Point], kept: list[list[Point]], budget: float) -> list[Point] | None:
    """`start` with the money left spent as fully as moving classes to a neighbouring option allows:
    with every option in `kept` equally good (none of them costs reduced cost), that is the best of
    them. A subset sum over the moves, by a bitset over the money in grains; None when the money is not
    whole or nothing moves."""
    moves = []  # (class, option, money it adds)
    for number, (point, options) in enumerate(zip(start, kept, strict=True)):
        ordered = sorted(options)
        if point not in ordered:
            continue
        at = ordered.index(point)
        for neighbour in ordered[max(at - 1, 0) : at + 2]:
            if neighbour[0] != point[0]:
                moves.append((number, neighbour, neighbour[0] - point[0]))
    if not moves or not all(float(money).is_integer() for *_, money in moves):
        return None
    grain = 0
    for *_, money in moves:
        grain = math.gcd(grain, abs(int(money)))
    left = math.floor((budget - sum(point[0] for point in start)) / grain)
    reach = max(abs(int(money)) // grain for *_, money in moves)
    low, high = -2 * reach, left + 2 * reach  # the window of sums kept: a move beyond it and back
    if high - low > FILL_CELLS:
        return None
    reached, history = 1 << -low, []  # bit i: a sum of low + i
    window = (1 << (high - low + 1)) - 1
    for number in sorted({number for number, *_ in moves}):
        history.append((number, reached))
        before = reached  # each class makes one move at most
        for mover, _, money in moves:
            if mover == number:
                shift = int(money) // grain
                reached |= ((before << shift) if shift > 0 else (before >> -shift)) & window
    best = (reached & ((1 << (left - low + 1)) - 1)).bit_length() - 1 + low
    if best <= 0:
        return None
    points, total = list(start), best
    for number, earlier in reversed(history):
        if (earlier >> (total - low)) & 1:
            continue
        for mover, neighbour, money in moves:
            shift = int(money) // grain
            if mover == number and total - shift >= low and (earlier >> (total - shift - low)) & 1:
                points[number], total = neighbour, total - shift
                break
    return points if total == 0 else None


def _solution(points: list[Point], bound: float, proven: bool, nodes: int) -> Solution:
    return Solution(
        choices=[(point[2], point[3]) for point in points],
        value=sum(point[1] for point in points),
        money=sum(point[0] for point in points),
        bound=bound,
        proven=proven,
        nodes=nodes,
    )


def _corners(runs: Sequence[Run]) -> list[Point]:
    """The ends of every run: the convex hull of a run is the segment between them."""
    points = []
    for index, run in enumerate(runs):
        if run.count < 1:
            continue
        points.append((run.money, run.value, index, 0))
        if run.count > 1:
            money, value = run.at(run.count - 1)
            points.append((money, value, index, run.count - 1))
    if not points:
        raise ValueError("a class without options")
    return points


def _hull(points: list[Point]) -> list[Point]:
    """The lower convex hull of `points` from the cheapest (least value among the cheapest) to the
    least value (cheapest among those): money strictly rising, value strictly falling, and the slopes
    strictly rising as computed (so that sorting edges by slope never takes a class's edges out of order)."""
    points = sorted(points)
    hull: list[Point] = []
    for point in points:
        if hull and hull[-1][0] == point[0]:
            continue  # the same money for no less value: sorted after the better point
        while len(hull) >= 2 and _slope(hull[-2], hull[-1]) >= _slope(hull[-1], point):
            hull.pop()
        hull.append(point)
    lowest = min(range(len(hull)), key=lambda index: hull[index][1])
    return hull[: lowest + 1]


def _slope(start: Point, end: Point) -> float:
    return (end[1] - start[1]) / (end[0] - start[0])


def _relaxation(hulls: list[list[Point]], budget: float) -> tuple[float, float, list[int], int | None]:
    """The LP optimum's value, the multiplier of the money limit (0 when it does not bind), the hull
    vertex each class reaches whole, and the class the LP takes part of an edge of."""
    left = budget - sum(hull[0][0] for hull in hulls)
    value = sum(hull[0][1] for hull in hulls)
    edges = []
    for number, hull in enumerate(hulls):
        for index in range(1, len(hull)):
            money = hull[index][0] - hull[index - 1][0]
            gain = hull[index][1] - hull[index - 1][1]
            edges.append((_slope(hull[index - 1], hull[index]), number, index, money, gain))
    edges.sort()
    chosen = [0] * len(hulls)
    for slope, number, index, money, gain in edges:
        if money > left:
            return value + gain * max(left, 0.0) / money, -slope, chosen, number
        left -= money
        value += gain
        chosen[number] = index
    return value, 0.0, chosen, None


def _improved(classes: Sequence[Sequence[Run]], points: list[Point], budget: float) -> list[Point]:
    """`points` after greedy moves: while the money left buys a better option of some class, take
    the move that gains most."""
    points = list(points)
    left = budget - sum(point[0] for point in points)
    while True:
        best_gain, best = 0.0, None
        for number, runs in enumerate(classes):
            money_now, value_now = points[number][0], points[number][1]
            limit = money_now + left
            for index, run in enumerate(runs):
                step = _best_step(run, limit)
                if step is None:
                    continue
                money, value = run.at(step)
                if value_now - value > best_gain:
                    best_gain, best = value_now - value, (number, (money, value, index, step))
        if best is None or best_gain <= 1e-12 * max(1.0, abs(points[best[0]][1])):
            return points
        number, point = best
        left -= point[0] - points[number][0]
        points[number] = point


def _affordable(runs: Sequence[Run], limit: float) -> list[Point]:
    """The best option of each run costing at most `limit`."""
    points = []
    for index, run in enumerate(runs):
        step = _best_step(run, limit)
        if step is not None:
            points.append((*run.at(step), index, step))
    return points


def _best_step(run: Run, limit: float) -> int | None:
    """The option of `run` worth least among those costing at most `limit`."""
    limit += ROUNDING * (1.0 + abs(limit))
    first, last = 0, run.count - 1
    if run.money_step > 0:
        last = min(last, math.floor((limit - run.money) / run.money_step))
        while last >= 0 and run.at(last)[0] > limit:
            last -= 1
    elif run.money_step < 0:
        first = max(first, math.ceil((run.money - limit) / -run.money_step))
        while first <= last and run.at(first)[0] > limit:
            first += 1
    elif run.money > limit:
        return None
    if first > last:
        return None
    return last if run.value_step < 0 else first  # the value is linear along the run


def _within(runs: Sequence[Run], hull: list[Point], price: float, gap: float) -> tuple[list[Point], list[Point]]:
    """The options whose reduced cost is at most `gap`, cheapest reduced cost first, and the ends of
    the runs they lie on (whose hull is theirs)."""
    least = min(money * price + value for money, value, *_ in hull)
    ranges, ends = [], []
    for index, run in enumerate(runs):
        reduced = run.value + price * run.money - least
        slope = run.value_step + price * run.money_step
        first, last = 0, run.count - 1
        if slope > 0:
            last = min(last, math.floor((gap - reduced) / slope))
        elif slope < 0:
            first = max(first, math.ceil((reduced - gap) / -slope))
        elif reduced > gap:
            continue
        if first > last:
            continue
        ranges.append((index, run, first, last))
        ends.append((*run.at(first), index, first))
        if last > first:
            ends.append((*run.at(last), index, last))
    if len(ends) == 1:
        return ends, ends
    steps = np.concatenate([np.arange(first, last + 1) for _, _, first, last in ranges])
    numbers = np.concatenate([np.full(last + 1 - first, index) for index, _, first, last in ranges])
    starts = np.array([[run.money, run.value, run.money_step, run.value_step] for _, run, _, _ in ranges])
    lengths = [last + 1 - first for *_, first, last in ranges]
    money0, value0, money_step, value_step = (np.repeat(column, lengths) for column in starts.T)
    moneys = money0 + steps * money_step
    values = value0 + steps * value_step
    # An option another one beats on both money and value is in no solution the other would not better.
    order = np.lexsort((values, moneys))
    lowest = np.minimum.accumulate(values[order])
    useful = order[np.concatenate(([True], values[order][1:] < lowest[:-1]))]
    reduced = values[useful] + price * moneys[useful] - least
    useful = useful[np.lexsort((moneys[useful], reduced))]
    points = zip(
        moneys[useful].tolist(), values[useful].tolist(), numbers[useful].tolist(), steps[useful].tolist(), strict=True
    )
    return list(points), ends


class _Search:
    """Depth-first branch and bound over the classes that still have more than one option."""

    def __init__(
        self,
        kept: list[list[Point]],
        ends: list[list[Point]],
        budget: float,
        cutoff: float,
        tolerance: float,
        grain: int,
    ) -> None:
        fixed = [options[0] for options in kept if len(options) == 1]
        # The classes whose options are not whole grains apart first, so that the money the classes
        # left at a node can spend is known to the grain; then the coarsest classes (most money
        # between their options): the finer classes left can spend the money left closely, so their
        # LP bound is nearly met by whole choices.
        self.order = sorted(
            (n for n, options in enumerate(kept) if len(options) > 1),
            key=lambda n: (_in_grains(kept[n], grain), -_step(kept[n]), n),
        )
        self.free = [kept[number] for number in self.order]
        self.kept = kept
        self.budget = budget - sum(point[0] for point in fixed)
        self.base = sum(point[1] for point in fixed)
        self.cutoff = cutoff  # only solutions worth less are sought
        self.tolerance = tolerance
        self.limit = 0
        self.nodes = 0
        self.found: list[Point] | None = None
        self.path: list[Point] = []
        self.bounds = _suffix_bounds([_hull(ends[number]) for number in self.order])
        self.curves = [(np.array(xs), np.array(ys)) for xs, ys, _ in self.bounds]
        self.grains = _suffix_grains(self.free)
        self.arrays = [(np.array([p[0] for p in options]), np.array([p[1] for p in options])) for options in self.free]
        self.tail, self.tail_moneys, self.tail_values, self.picks = self._join_tail()

    def _join_tail(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """The finest classes' combined choices that no cheaper one beats: (first class joined, money,
        value, and each choice's option per joined class)."""
        if not self.free:
            return 0, np.zeros(1), np.zeros(1), np.zeros((1, 0), dtype=int)
        first = len(self.free) - 1
        moneys, values = self.arrays[first]
        moneys, values, picks = _pareto(moneys, values, np.arange(len(moneys))[:, None])
        while first > 0 and len(moneys) * len(self.free[first - 1]) <= TAIL:
            first -= 1
            more_moneys, more_values = self.arrays[first]
            count = len(moneys)
            moneys, values, picks = _pareto(
                (more_moneys[:, None] + moneys[None, :]).ravel(),
                (more_values[:, None] + values[None, :]).ravel(),
                np.hstack(
                    [np.repeat(np.arange(len(more_moneys)), count)[:, None], np.tile(picks, (len(more_moneys), 1))]
                ),
            )
        return first, moneys, values, picks

    def run(self, limit: int) -> list[Point] | None:
        """The best solution worth less than the cutoff, or None."""
        self.limit = limit
        if not self.free:
            return None
        xs, ys = self.curves[0]
        least, grain = xs[0], self.grains[0]
        usable = self.budget if grain <= 1 else least + grain * math.floor((self.budget - least) / grain)
        if self.base + float(np.interp(usable, xs, ys)) >= self.cutoff - self.tolerance:
            return None  # the money the classes can spend, to the grain, leaves nothing better
        if self.tail == 0:
            self._finish([], self.budget, self.base)
        else:
            self._branch(0, self.budget, self.base)
        if self.found is None:
            return None
        chosen = dict(zip(self.order, self.found, strict=True))
        return [chosen.get(number, options[0]) for number, options in enumerate(self.kept)]

    def _branch(self, depth: int, left: float, value: float) -> None:
        """Every option of the class at `depth` whose bound can beat the cutoff, then deeper."""
        self.nodes += 1
        moneys, values = self.arrays[depth]
        if depth == self.tail - 1:
            self._finish(self.free[depth], left - moneys, value + values)
            return
        # The classes after this one can spend only their cheapest choice plus whole grains.
        xs, ys, slopes = self.bounds[depth + 1]
        least, grain, last = xs[0], self.grains[depth + 1], len(slopes)
        options = self.free[depth]
        if len(options) > WIDE:
            rests = left - moneys
            usable = rests if grain <= 1 else least + grain * np.floor((rests - least) / grain)
            bounds = value + values + np.interp(usable, *self.curves[depth + 1])
            promising = np.flatnonzero((usable >= least) & (bounds < self.cutoff - self.tolerance)).tolist()
            candidates = [(options[index], float(rests[index]), float(bounds[index])) for index in promising]
        else:
            candidates = []
            for point in options:
                rest = left - point[0]
                usable = rest if grain <= 1 else least + grain * math.floor((rest - least) / grain)
                if usable < least:
                    continue
                at = bisect_right(xs, usable) - 1
                below = ys[at] + (usable - xs[at]) * slopes[at] if at < last else ys[-1]
                candidates.append((point, rest, value + point[1] + below))
        for point, rest, bound in candidates:
            if bound >= self.cutoff - self.tolerance or self.nodes > self.limit:
                continue
            self.path.append(point)
            self._branch(depth + 1, rest, value + point[1])
            self.path.pop()

    def _finish(self, options: list[Point], lefts: np.ndarray | float, values: np.ndarray | float) -> None:
        """Each option (or none) with the best choice of the joined classes that the money left affords."""
        at = np.searchsorted(self.tail_moneys, lefts, side="right") - 1
        totals = np.where(at >= 0, values + self.tail_values[np.maximum(at, 0)], np.inf)
        best = int(np.argmin(totals)) if np.ndim(totals) else 0
        total = float(np.ravel(totals)[best])
        if total < self.cutoff - self.tolerance:
            self.cutoff = total
            joined = self.picks[int(np.ravel(at)[best])]
            self.found = [
                *self.path,
                *([options[best]] if options else []),
                *(self.free[self.tail + number][pick] for number, pick in enumerate(joined.tolist())),
            ]


def _suffix_grains(classes: list[list[Point]]) -> list[int]:
    """For each depth, the greatest common divisor of the money between the options of the classes
    from that depth on, when all their money is whole (else 1: no grain to use)."""
    grains = [0]
    for options in reversed(classes):
        moneys = [point[0] for point in options]
        if grains[-1] == 1 or not all(float(money).is_integer() for money in moneys):
            grains.append(1)
            continue
        grain, least = grains[-1], min(moneys)
        for money in moneys:
            grain = math.gcd(grain, int(money - least))
        grains.append(grain)
    grains.reverse()
    return grains


def _pareto(moneys: np.ndarray, values: np.ndarray, picks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The choices no cheaper (or equally cheap) choice beats, by money: money rising, value falling."""
    order = np.lexsort((values, moneys))
    moneys, values, picks = moneys[order], values[order], picks[order]
    lowest = np.minimum.accumulate(values)
    useful = np.concatenate(([True], values[1:] < lowest[:-1]))
    return moneys[useful], values[useful], picks[useful]


def _in_grains(options: list[Point], grain: int) -> bool:
    least = min(point[0] for point in options)
    return all(float(point[0] - least).is_integer() and int(point[0] - least) % grain == 0 for point in options)


def _step(options: list[Point]) -> float:
    """The mean money between a class's options."""
    moneys = [point[0] for point in options]
    return (max(moneys) - min(moneys)) / (len(moneys) - 1)


def _suffix_bounds(hulls: list[list[Point]]) -> list[tuple[list[float], list[float], list[float]]]:
    """For each depth, the LP bound of the classes from that depth on as a function of the money:
    breakpoints (money, value) and the slope after each; below the first breakpoint, infeasible."""
    bounds = [([0.0], [0.0], [])]
    edges: list[tuple[float, float, float]] = []
    base_money = base_value = 0.0
    for hull in reversed(hulls):
        base_money += hull[0][0]
        base_value += hull[0][1]
        for index in range(1, len(hull)):
            money = hull[index][0] - hull[index - 1][0]
            gain = hull[index][1] - hull[index - 1][1]
            edges.append((_slope(hull[index - 1], hull[index]), money, gain))
        edges.sort()
        xs, ys, slopes = [base_money], [base_value], []
        for slope, money, gain in edges:
            xs.append(xs[-1] + money)
            ys.append(ys[-1] + gain)
            slopes.append(slope)
        bounds.append((xs, ys, slopes))
    bounds.reverse()
    return bounds
