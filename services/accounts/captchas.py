"""Image captchas (G1): four upper-case letters drawn with noise, single use, short-lived; the
answer is kept only hashed. The back office's sign-in and password reset ask for one, and the
mini-program's password sign-in after a few failures (`authCaptcha`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import random
import secrets

from models.admin import Captcha
from models.fields import utcnow
from services.common.errors import ApiError

CAPTCHA_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # upper case (G1), without I and O
CAPTCHA_TTL = dt.timedelta(minutes=5)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def new_captcha(config) -> tuple[str, bytes]:
    """A captcha key and its PNG. CAPTCHA_FIXED_ANSWER (tests only) fixes the answer."""
    answer = config.captcha_fixed_answer or "".join(secrets.choice(CAPTCHA_LETTERS) for _ in range(4))
    key = secrets.token_urlsafe(16)
    Captcha.create(key=key, answer_hash=_hash(answer.upper()), expires_at=utcnow() + CAPTCHA_TTL)
    return key, _captcha_png(answer)


def _captcha_png(answer: str) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    noise = random.Random(secrets.randbits(32))
    image = Image.new("RGB", (120, 44), (238, 242, 247))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        draw.line([(noise.randint(0, 120), noise.randint(0, 44)), (noise.randint(0, 120), noise.randint(0, 44))],
                  fill=(noise.randint(120, 200),) * 3, width=1)
    font = ImageFont.load_default(size=28)
    for i, letter in enumerate(answer):
        draw.text((8 + i * 27, noise.randint(2, 10)), letter, font=font,
                  fill=(noise.randint(0, 90), noise.randint(0, 90), noise.randint(60, 140)))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def check_captcha(key: str | None, answer: str | None) -> None:
    """Accept a captcha answer once (case-insensitive); a wrong one spends the captcha too."""
    row = Captcha.get_or_none(Captcha.key == (key or ""))
    if row is None or row.used_at is not None or row.expires_at < utcnow():
        raise ApiError("captcha_expired", "验证码已过期，请点击图片刷新", 400, "captcha")
    Captcha.update(used_at=utcnow()).where(Captcha.id == row.id).execute()
    if not hmac.compare_digest(row.answer_hash, _hash((answer or "").strip().upper())):
        raise ApiError("captcha_wrong", "图形验证码错误", 400, "captcha")
