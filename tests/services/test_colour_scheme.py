"""The colour scheme kept in the database, the configuration its default; each process keeps a
copy that the server refreshes from a pool thread."""

from __future__ import annotations

import tornado.ioloop

from models.rule_versions import ColourSetting
from services.colours import colour_scheme
from tests.conftest import TEST_CONFIG


def test_the_stored_choice_overrides_the_configuration_and_the_server_keeps_its_copy_fresh(db, monkeypatch):
    assert colour_scheme.current(TEST_CONFIG) == TEST_CONFIG.colour_scheme == 4
    colour_scheme.store(3, None)
    assert colour_scheme.current(TEST_CONFIG) == 3
    # Another process changes it: this one sees it once its copy is refreshed, off the loop.
    ColourSetting.update(value="4").execute()
    assert colour_scheme.current(TEST_CONFIG) == 3
    monkeypatch.setattr(colour_scheme, "REFRESH_SECONDS", 0.05)
    loop = tornado.ioloop.IOLoop()
    callback = None
    try:
        def start():
            nonlocal callback
            callback = colour_scheme.keep_fresh(loop, lambda work: work())

        loop.add_callback(start)
        loop.call_later(0.5, loop.stop)
        loop.start()
    finally:
        if callback is not None:
            callback.stop()
        loop.close(all_fds=False)
    assert colour_scheme.current(TEST_CONFIG) == 4
