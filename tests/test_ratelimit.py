from niftybaskets.ratelimit import RateLimiter


class ManualTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_acquire_waits_exactly_until_the_window_has_room():
    time = ManualTime()
    limiter = RateLimiter(time.monotonic, time.sleep)
    for _ in range(3):
        limiter.acquire("orders", [(3, 1.0)])
    assert time.slept == []
    time.now = 0.25
    limiter.acquire("orders", [(3, 1.0)])
    assert time.slept == [0.75]
    assert time.now == 1.0


def test_every_limit_is_kept_and_keys_are_separate():
    time = ManualTime()
    limiter = RateLimiter(time.monotonic, time.sleep)
    for _ in range(4):
        limiter.acquire("a", [(10, 1.0), (4, 60.0)])
    limiter.acquire("b", [(10, 1.0), (4, 60.0)])
    assert time.slept == []
    limiter.acquire("a", [(10, 1.0), (4, 60.0)])
    assert time.slept == [60.0]


def test_allow_refuses_without_counting_and_zero_means_no_limit():
    time = ManualTime()
    limiter = RateLimiter(time.monotonic, time.sleep)
    assert limiter.allow("q", [(1, 1.0)])
    assert not limiter.allow("q", [(1, 1.0)])
    time.now = 1.0
    assert limiter.allow("q", [(1, 1.0)])
    assert all(limiter.allow("free", [(0, 1.0)]) for _ in range(100))
