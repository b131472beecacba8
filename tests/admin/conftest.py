"""Back-office test helpers: a browser-like client (cookies, XSRF token, fixed captcha) and a
small world of regions, compounds, admins and residents."""

from __future__ import annotations

import re

import pytest
import requests

from services.accounts import admin_auth
from services.common.regions import load_tree
from services.operations import demo
from services.operations.demo import ZHENGZHOU

CAPTCHA = "ABCD"
EXPORT_PURPOSE = "核查名单数据"


class AdminClient:
    """Talks to the back office the way a browser does."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = requests.Session()

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.base_url + path, timeout=10, **kwargs)

    def xsrf(self) -> str:
        if "_xsrf" not in self.http.cookies:
            self.get("/admin/login")
        return self.http.cookies["_xsrf"]

    def post(self, path: str, data: dict | None = None, *, xsrf: str | None = None, **kwargs) -> requests.Response:
        body = {"_xsrf": xsrf if xsrf is not None else self.xsrf(), **(data or {})}
        return self.http.post(self.base_url + path, data=body, timeout=10, **kwargs)

    def export(self, path: str, params: dict | None = None, purpose: str = EXPORT_PURPOSE, **data) -> requests.Response:
        """An export as the page makes it: its purpose form (GET), then the POST with the purpose."""
        form = self.get(path, params=params)
        assert form.status_code == 200 and 'name="purpose"' in form.text, (form.status_code, page_error(form))
        return self.post(path, {"purpose": purpose, **data}, params=params)

    def login(self, phone: str, password: str, captcha: str = CAPTCHA, sms_code: str | None = None,
              follow: bool = False) -> requests.Response:
        self.get("/admin/login")
        self.get("/admin/captcha")
        data = {"phone": phone, "password": password, "captcha": captcha}
        if sms_code:
            data["sms_code"] = sms_code
        return self.post("/admin/login", data, allow_redirects=follow)


def region_names(*names: str, field: str = "region") -> dict:
    """A region cascade's answer as a browser sends it: one name per level, from the city down."""
    levels = ("city", "district", "street", "community", "compound")
    return {f"{field}.{level}": name for level, name in zip(levels, names)}


def page_error(response: requests.Response) -> str:
    """The Chinese error message a page shows."""
    found = re.search(r'class="(?:error|field-error)"[^>]*>([^<]+)<', response.text)
    return found.group(1) if found else ""


def create_admins(*accounts: tuple, title: str = "管理员") -> dict:
    """A back-office account for each (key, phone, role, region code), named key + `title`:
    key -> (admin, phone, password)."""
    admins = {}
    for key, phone, role, region in accounts:
        admin, password = admin_auth.create_admin(None, phone=phone, name=f"{key}{title}", role=role,
                                                  region_code=region, send_sms=False)
        admins[key] = (admin, phone, password)
    return admins


@pytest.fixture
def office(make_server, sms):
    """The server with a known captcha, the demo regions and places, and admins at each level."""
    server = make_server(captcha_fixed_answer=CAPTCHA)
    load_tree(ZHENGZHOU)
    demo.load()
    server.admins = create_admins(("city", "13810000001", "city", "410100"),
                                  ("jinshui", "13810000002", "district", "410105"),
                                  ("erqi", "13810000003", "district", "410103"),
                                  ("compound", "13810000004", "compound", "410105001001001"))
    return server


@pytest.fixture
def as_admin(office):
    """A signed-in client for one of the office's admins: as_admin("jinshui")."""
    def sign_in(key: str) -> AdminClient:
        _, phone, password = office.admins[key]
        client = AdminClient(office.base_url)
        response = client.login(phone, password)
        assert response.status_code == 302, response.text[:500]
        return client
    return sign_in
