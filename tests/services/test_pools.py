"""The export processes' work runs with Python's cyclic collector paused (services.operations.pools):
off for the work, back on after, however the work ends."""

import gc

import pytest

from services.operations import pools


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_the_collector_is_off_in_the_block_and_on_after(collector_on):
    with pools.collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_is_back_on_when_the_block_raises(collector_on):
    with pytest.raises(ValueError), pools.collector_paused():
        raise ValueError("the work failed")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off(collector_on):
    gc.disable()
    with pools.collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_an_export_process_works_with_the_collector_paused(make_server):
    make_server()  # configures the pools for this database
    try:
        assert pools.call_in_process(gc.isenabled) is False
    finally:
        pools.shutdown()
