"""Screen place codes (N1): a place's code shown on a screen at its door, changing every window.

A printed code can be photographed and scanned from anywhere (seed 002 warns of remote scans). A
door screen (a tablet opening `/screen/{token}` with its device key) shows instead the place's
code URL with a screen code appended, `/s/{token}?sc={window}.{signature}`: the signature is an
HMAC-SHA256 (stdlib `hmac`, key derived from SECRET_KEY) over the place and the time window, so
it cannot be made for another place or a later window. A scan carrying a screen code is accepted
in the code's own window and the next (at most two windows after it first showed); later it is
refused with 请扫描现场屏幕上的最新场所码. A place set to "screen only" refuses printed codes;
otherwise they keep working.

Device keys are made (shown once) and revoked by the place admin; only their SHA-256 is kept.
Checking a screen code is CPU work on values the scan has already read: no query.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
import time

from models.db import db
from models.fields import utcnow
from models.places import Place, ScreenDevice
from services.common.errors import ApiError
from services.common.timefmt import local_iso
from services.oversight import audit
from services.venues import places

KEY_HEADER = "X-Screen-Key"
SCREEN_CODE_RE = re.compile(r"(\d{1,12})\.([A-Za-z0-9_-]{22})")
DEVICE_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16}")
KEY_RE = re.compile(r"[A-Za-z0-9_-]{32}")
MAX_SCREENS = 20  # per place
NAME_MAX = 64
LAST_SEEN_EVERY = dt.timedelta(minutes=1)  # a screen's "last seen" is written at most this often
_DERIVE = b"healthcode screen place codes v1"

LATEST = "请扫描现场屏幕上的最新场所码"


def _forged() -> ApiError:
    return ApiError("screen_code_invalid", f"场所码校验失败，{LATEST}", 400, "screen_code")


@functools.lru_cache(maxsize=4)
def _signing_key(secret_key: str) -> bytes:
    """The screen codes' own key, derived from SECRET_KEY (so it signs nothing else)."""
    if not secret_key:
        raise ValueError("SECRET_KEY is empty: cannot sign screen place codes")
    return hmac.new(secret_key.encode("utf-8"), _DERIVE, hashlib.sha256).digest()


def _signature(place_id: int, window: int, config) -> str:
    # hmac.digest: the one-shot C path, a few microseconds on the scan's hot path.
    digest = hmac.digest(_signing_key(config.secret_key), f"{place_id}:{window}".encode(), "sha256")
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")  # 128 bits, 22 characters


def window_of(config, now: float | None = None) -> int:
    """The number of the time window `now` (Unix seconds, default the server's clock) falls in."""
    return int((time.time() if now is None else now) // config.screen_code_window_seconds)


def sign(place_id: int, window: int, config) -> str:
    """The screen code of a place for one window: "{window}.{signature}"."""
    return f"{window}.{_signature(place_id, window, config)}"


def check_format(screen_code) -> tuple[int, str]:
    """A screen code's window and signature; a malformed one is refused as forged."""
    match = SCREEN_CODE_RE.fullmatch(screen_code) if isinstance(screen_code, str) else None
    if match is None:
        raise _forged()
    return int(match[1]), match[2]


def check_scan(place: Place, screen_code, config, now: float | None = None) -> None:
    """Refuse a scan whose screen code is forged or older than two windows, or a printed code
    (no screen code) at a place that takes screen codes only. No database access."""
    if screen_code is None:
        if place.screen_only:
            raise ApiError("screen_code_required", f"本场所只接受现场屏幕上的场所码，{LATEST}", 409, "code")
        return
    window, signature = check_format(screen_code)
    if not hmac.compare_digest(_signature(place.id, window, config), signature):
        raise _forged()
    current = window_of(config, now)
    if window > current + 1:  # one window ahead is a clock a little ahead on another server process
        raise _forged()
    if window < current - 1:
        raise ApiError("screen_code_expired", LATEST, 400, "screen_code")


def screen_code_url(config, token: str, place_id: int, window: int) -> str:
    """What a screen's QR code holds: the place's H5 scan page with the window's screen code."""
    return f"{places.code_url(config, token)}?sc={sign(place_id, window, config)}"


# --- devices ------------------------------------------------------------------------------------

def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def screen_url(config, device: ScreenDevice, key: str | None = None) -> str:
    """The page a screen opens: with its key when it is known (only when the key is made)."""
    url = f"{config.public_base_url.rstrip('/')}/screen/{device.token}"
    return f"{url}?key={key}" if key else url


def device_view(device: ScreenDevice, config) -> dict:
    """A screen as its place admin (and the back office) sees it: never its key."""
    return {"id": device.id, "name": device.name, "url": screen_url(config, device),
            "status": "revoked" if device.revoked_at else "active",
            "created_at": local_iso(device.created_at), "last_seen_at": local_iso(device.last_seen_at),
            "revoked_at": local_iso(device.revoked_at)}


def devices_of(place: Place):
    """The place's screens, newest first (revoked ones included)."""
    return ScreenDevice.select().where(ScreenDevice.place == place).order_by(ScreenDevice.id.desc())


def create_device(account, place: Place, name) -> tuple[ScreenDevice, str]:
    """A new screen for the place and its key (192 random bits), which the caller shows once: only
    its hash is kept."""
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise ApiError("missing_field", "请填写屏幕名称（如：正门屏幕）", 400, "name")
    if len(name) > NAME_MAX:
        raise ApiError("invalid_field", f"屏幕名称最多 {NAME_MAX} 个字", 400, "name")
    key = secrets.token_urlsafe(24)
    with db.atomic():
        active = ScreenDevice.select().where((ScreenDevice.place == place) & ScreenDevice.revoked_at.is_null())
        if active.count() >= MAX_SCREENS:
            raise ApiError("too_many_screens", f"每个场所最多 {MAX_SCREENS} 块屏幕，请先停用不用的屏幕", 409)
        device = ScreenDevice.create(place=place, token=secrets.token_urlsafe(12), key_hash=_key_hash(key), name=name,
                                     created_by=account)
        audit.record(account, "place_admin", "create_screen", device, place=place.id, name=name)
    return device, key


def revoke_device(place: Place, device_id, *, account=None, admin=None) -> ScreenDevice:
    """Stop a screen: its page and its key answer 403 from now on (its codes last their window)."""
    device = ScreenDevice.get_or_none((ScreenDevice.id == int(device_id)) & (ScreenDevice.place == place))
    if device is None:
        raise ApiError("screen_not_found", "屏幕设备不存在", 404, "screen_id")
    with db.atomic():
        done = (ScreenDevice.update(revoked_at=utcnow(), revoked_by_admin=admin)
                .where((ScreenDevice.id == device.id) & ScreenDevice.revoked_at.is_null()).execute())
        if not done:
            raise ApiError("screen_already_revoked", "该屏幕设备已停用", 409, "screen_id")
        audit.record(account, "back_office" if admin is not None else "place_admin", "revoke_screen", device,
                     admin_actor=admin, place=place.id, name=device.name)
    return ScreenDevice.get_by_id(device.id)


def set_screen_only(account, place: Place, on: bool) -> Place:
    """Whether the place refuses printed codes (only its screens' codes are taken)."""
    with db.atomic():
        Place.update(screen_only=bool(on)).where(Place.id == place.id).execute()
        audit.record(account, "place_admin", "set_screen_only", place, screen_only=bool(on))
    return Place.get_by_id(place.id)


def authenticate(token: str, key) -> ScreenDevice:
    """The screen behind a page's token and key; a missing, wrong or revoked key is a 403."""
    if not isinstance(key, str) or not key:
        raise ApiError("screen_key_required", "缺少屏幕设备密钥，请使用场所管理员生成的屏幕链接打开", 403, "key")
    device = (ScreenDevice.get_or_none(ScreenDevice.token == token)
              if isinstance(token, str) and DEVICE_TOKEN_RE.fullmatch(token) else None)
    # The hash is compared even for an unknown token, so both take as long.
    expected = device.key_hash if device is not None else "0" * 64
    if not hmac.compare_digest(expected, _key_hash(key)) or device is None:
        raise ApiError("screen_key_invalid", "屏幕设备密钥无效，请使用场所管理员生成的屏幕链接打开", 403, "key")
    if device.revoked_at is not None:
        raise ApiError("screen_key_revoked", "该屏幕设备已被场所管理员停用，请联系场所管理员", 403, "key")
    if device.place.status != "active":
        raise ApiError("place_closed", "该场所已停用", 409)
    return device


def current(device: ScreenDevice, config, now: float | None = None) -> dict:
    """What a screen shows now: the place, the code URL of this window, the server's time and how
    long until the next code. Marks the screen as seen (at most once a minute)."""
    now = time.time() if now is None else now
    place = device.place
    window = window_of(config, now)
    seconds = config.screen_code_window_seconds
    stamp = dt.datetime.fromtimestamp(now, dt.timezone.utc).replace(tzinfo=None)
    seen_before = stamp - LAST_SEEN_EVERY
    (ScreenDevice.update(last_seen_at=stamp)
     .where((ScreenDevice.id == device.id)
            & (ScreenDevice.last_seen_at.is_null() | (ScreenDevice.last_seen_at < seen_before))).execute())
    return {"place": places.place_view(place), "screen": device.name,
            "url": screen_code_url(config, places.current_code(place).token, place.id, window),
            "window": window, "window_seconds": seconds, "screen_only": bool(place.screen_only),
            "server_time": local_iso(stamp), "server_ms": int(now * 1000),
            "next_change_ms": int(((window + 1) * seconds - now) * 1000)}
