"""Fixtures the image tests share (paper health codes, place-code posters): the texts drawn,
and a machine with no CJK font."""

import pytest
from PIL import ImageDraw

from services.common import fonts


@pytest.fixture
def drawn(monkeypatch) -> list[str]:
    """Every text drawn with ImageDraw, in order."""
    texts = []
    real_text = ImageDraw.ImageDraw.text

    def spy(self, xy, text, *args, **kwargs):
        texts.append(text)
        return real_text(self, xy, text, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", spy)
    return texts


@pytest.fixture
def no_font(monkeypatch):
    """No CJK font anywhere: none installed, none found by fc-list, none packaged."""
    monkeypatch.setattr(fonts, "_font_choice", None)
    monkeypatch.setattr(fonts, "SYSTEM_FONTS", ("/nonexistent/font.ttc",))
    monkeypatch.setattr(fonts, "_fc_list_fonts", lambda: [])
    monkeypatch.setattr(fonts, "_packaged_font", lambda: None)
