"""Door screens (N1): the place admin makes and revokes the keys of the screens that show the
place's rotating code, and chooses whether printed codes still count; a screen fetches its
current code with its key (services/venues/screen_codes.py holds the signing and the rules)."""

from __future__ import annotations

import base64

from handlers.base import ApiHandler, BaseHandler, operation
from handlers.schema import Bool, Int, List, Obj, Str, model, response_model
from services.fieldwork import place_admin
from services.venues import place_code_images, screen_codes

MAX_LISTED = 100
SCREEN = response_model("ScreenDevice", {
    "id": Int("屏幕编号"), "name": Str("屏幕名称"), "url": Str("屏幕页面地址（不含密钥）"),
    "status": Str("active（使用中）或 revoked（已停用）"), "created_at": Str("创建时间"),
    "last_seen_at": Str("最近一次取码时间", nullable=True), "revoked_at": Str("停用时间", nullable=True)})
NEW_SCREEN = response_model("NewScreenDevice", {
    **SCREEN.__specs__,
    "key": Str("屏幕设备密钥（只显示这一次，服务器只保存其摘要）"),
    "screen_url": Str("在屏幕上打开的完整地址（含密钥，只显示这一次）")})
SCREENS = response_model("ScreenDevices", {"screen_only": Bool("是否只接受屏幕上的场所码（张贴的场所码不再有效）"),
                                   "window_seconds": Int("屏幕场所码的更换间隔（秒）"),
                                   "items": List(Obj(SCREEN), "屏幕（最新的在前）", max_items=MAX_LISTED)})
CREATE_SCREEN = model("CreateScreenDeviceRequest", {
    "name": Str("屏幕名称，如：正门屏幕", max_len=screen_codes.NAME_MAX)})
SCREEN_ONLY = model("SetScreenOnlyRequest", {
    "screen_only": Bool("true：只接受现场屏幕上的场所码（张贴、拍照或转发的场所码被拒绝）；false：张贴的场所码仍然有效")})
SCREEN_CODE = response_model("ScreenCode", {
    "place": Obj(response_model("ScreenPlace", {"id": Int("场所编号"), "name": Str("名称"), "type": Str("类型"),
                                        "type_label": Str("类型名称"), "address": Str("地址", nullable=True)}), "场所"),
    "screen": Str("屏幕名称"), "url": Str("本时间窗口的二维码内容"),
    "image": Str("二维码图片（SVG 的 data: URL）", max_len=None), "window": Int("时间窗口编号"),
    "window_seconds": Int("时间窗口长度（秒）"), "screen_only": Bool("是否只接受屏幕上的场所码"),
    "server_time": Str("服务器时间（+08:00）"), "server_ms": Int("服务器时间（Unix 毫秒）"),
    "next_change_ms": Int("距下一个场所码的毫秒数")})
KEY_PARAMETERS = [{"name": screen_codes.KEY_HEADER, "in": "header", "required": True,
                   "description": "屏幕设备密钥（场所管理员创建屏幕时显示）",
                   "schema": {"type": "string", "maxLength": 64}}]


def _screens(account, config) -> dict:
    place = place_admin.my_place(account)
    items = screen_codes.devices_of(place).limit(MAX_LISTED)
    return {"screen_only": bool(place.screen_only), "window_seconds": config.screen_code_window_seconds,
            "items": [screen_codes.device_view(d, config) for d in items]}


def _current_code(token: str, key: str | None, config) -> dict:
    """The current code of the screen whose device key this is."""
    return screen_codes.current(screen_codes.authenticate(token, key), config)


class ScreensHandler(ApiHandler):
    roles = ("place_admin",)

    @operation("listScreenDevices", "我的场所的现场屏幕（场所码每 30 秒更换）及是否只接受屏幕场所码", response=SCREENS,
               errors=(404,))
    def get(self):
        return _screens(self.current_account, self.config)

    @operation("createScreenDevice", "添加现场屏幕：生成屏幕设备密钥（只显示一次）和屏幕页面地址", body=CREATE_SCREEN,
               response=NEW_SCREEN, status=201, errors=(404, 409))
    def post(self, body):
        device, key = screen_codes.create_device(self.current_account, place_admin.my_place(self.current_account),
                                                 body["name"])
        return {**screen_codes.device_view(device, self.config), "key": key,
                "screen_url": screen_codes.screen_url(self.config, device, key)}


class ScreenRevokeHandler(ApiHandler):
    roles = ("place_admin",)

    @operation("revokeScreenDevice", "停用现场屏幕：其设备密钥立即失效", response=SCREEN, errors=(404, 409))
    def post(self, screen_id):
        place = place_admin.my_place(self.current_account)
        return screen_codes.device_view(screen_codes.revoke_device(place, screen_id, account=self.current_account),
                                        self.config)


class ScreenOnlyHandler(ApiHandler):
    roles = ("place_admin",)

    @operation("setScreenOnly", "设置是否只接受现场屏幕上的场所码（防止拍照、转发的场所码异地扫码）", body=SCREEN_ONLY,
               response=SCREENS, errors=(404,))
    def put(self, body):
        screen_codes.set_screen_only(self.current_account, place_admin.my_place(self.current_account),
                                     body["screen_only"])
        return _screens(self.current_account, self.config)


class ScreenCodeHandler(BaseHandler):
    """GET /api/v1/screens/{token}/code: a door screen's current code, with its device key."""

    openapi_tag = ("screen", "现场屏幕：以屏幕设备密钥取当前场所码")
    security_scheme = ("screenKey", {"type": "apiKey", "in": "header", "name": screen_codes.KEY_HEADER,
                                     "description": "屏幕设备密钥（场所管理员创建屏幕时显示一次）"})
    header_parameters = KEY_PARAMETERS

    @operation("getScreenCode", "现场屏幕取当前场所码（二维码、服务器时间、下次更换时间）", response=SCREEN_CODE,
               errors=(403, 409), description="屏幕页面 /screen/{token} 每个时间窗口调用一次。密钥缺失、错误或已停用返回 403。")
    async def get(self, token):
        view = await self.on_db(_current_code, token, self.request.headers.get(screen_codes.KEY_HEADER), self.config)
        svg = await self.off_loop(place_code_images.qr_svg, view["url"])
        return {**view, "image": "data:image/svg+xml;base64," + base64.b64encode(svg).decode()}


def routes(config) -> list:
    """The door-screen routes."""
    return [
        (r"/api/v1/place-admin/place/screens", ScreensHandler),
        (r"/api/v1/place-admin/place/screens/(?P<screen_id>\d+)/revoke", ScreenRevokeHandler),
        (r"/api/v1/place-admin/place/screen-only", ScreenOnlyHandler),
        (r"/api/v1/screens/(?P<token>[A-Za-z0-9_\-]{1,64})/code", ScreenCodeHandler),
    ]
