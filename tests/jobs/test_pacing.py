"""The jobs' pacing: between two chunks of work a job sleeps in proportion to the work done."""

import pytest

from jobs.pacing import Pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_pause_keeps_the_job_to_its_share_of_the_time():
    clock = FakeClock()
    pacer = Pacer(share=0.25, clock=clock, sleep=clock.sleep)
    clock.now += 0.1  # a chunk of work
    pacer()
    assert clock.now == pytest.approx(100.4)  # 0.1 s worked, 0.3 s slept
    clock.now += 0.2
    pacer()
    assert pacer.paused == pytest.approx(0.3 + 0.6)


def test_the_time_slept_is_not_counted_as_work_and_a_pause_is_capped():
    clock = FakeClock()
    pacer = Pacer(share=0.5, max_pause=1.0, clock=clock, sleep=clock.sleep)
    clock.now += 5.0  # a slow chunk: the pause is capped
    pacer()
    assert pacer.paused == pytest.approx(1.0)
    pacer()  # no work since: no pause
    assert pacer.paused == pytest.approx(1.0)


def test_a_share_of_one_never_sleeps_and_a_share_outside_0_1_is_refused():
    clock = FakeClock()
    pacer = Pacer(share=1.0, clock=clock, sleep=clock.sleep)
    clock.now += 1.0
    pacer()
    assert pacer.paused == 0
    for share in (0, -0.5, 1.5):
        with pytest.raises(ValueError):
            Pacer(share=share)
