"""deploy/nginx.conf as it is (only its host-specific values replaced) in front of two server
processes and a job runner on MariaDB: TLS with a certificate made here, a scan and a back-office
sign-in through it, the client's address as nginx saw it (not as the client claimed), static files
from nginx, the per-address limit on sign-in routes, and the body sizes. nginx is Debian's,
installed when missing (as .ci/run does), run from a directory of the test's own, never the
system's."""

from __future__ import annotations

import concurrent.futures
import json
import re
import subprocess

import pymysql
import requests

from tests.conftest import mysql_database
from tests.deploy.nginx_site import certificates, main_config, nginx_binary, site
from tests.deploy.procs import Started, answers, environment, wait_until
from tests.fakes.server_thread import free_port

PROFILE = {"name": "王小明", "id_number": "110101199003070011", "phone": "13800000000", "address": "经八路5号院3号楼",
           "building": "3", "room": "501", "resident_category": "owner"}


def test_nginx_in_front_of_two_processes_and_a_job_runner(tmp_path):
    nginx = nginx_binary()
    url, drop = mysql_database()
    ca, cert, key = certificates(tmp_path)
    upstream, https, http = free_port(), free_port(), free_port()
    base = f"https://127.0.0.1:{https}"
    env = environment(DATABASE_URL=url, RUN_JOBS=0, TRUST_PROXY_HEADERS=1, CAPTCHA_FIXED_ANSWER="ABCD",
                      PUBLIC_BASE_URL=base)
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    config = main_config(prefix, site(prefix, https, http, upstream, cert, key))
    checked = subprocess.run([nginx, "-t", "-p", str(prefix), "-c", str(config), "-g", f"pid {prefix}/nginx.pid;"],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    server = runner = proxy_process = None
    try:
        server = Started(["server.py", "--processes", "2", "--demo", "--port", str(upstream)], env, tmp_path / "server.log")
        wait_until(lambda: answers(f"http://127.0.0.1:{upstream}/healthz"), 120, "the server", server)
        runner = Started(["-m", "jobs"], env, tmp_path / "jobs.log")
        proxy_process = subprocess.Popen([nginx, "-p", str(prefix), "-c", str(config), "-g",
                                          f"daemon off; pid {prefix}/nginx.pid;"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        wait_until(lambda: answers(f"{base}/healthz", verify=str(ca)), 30, "nginx")
        output = server.output()
        place = re.search(r"/s/([A-Za-z0-9_-]+)", output).group(1)
        password = re.search(r"密码 (\S+?)\)", output).group(1)

        # TLS verified against the CA made here; plain HTTP is sent to HTTPS.
        redirect = requests.get(f"http://127.0.0.1:{http}/healthz", allow_redirects=False, timeout=5)
        assert redirect.status_code == 301 and redirect.headers["Location"].startswith("https://")

        # A scan through nginx.
        citizen = requests.Session()
        citizen.verify, citizen.trust_env = str(ca), False  # REQUESTS_CA_BUNDLE would win over a session's verify
        login = citizen.post(f"{base}/api/v1/auth/dev/login", json={"openid": "nginx-citizen"}, timeout=10)
        assert login.status_code == 200, login.text
        citizen.headers["Authorization"] = f"Bearer {login.json()['data']['token']}"
        scan = citizen.post(f"{base}/api/v1/scans", timeout=10,
                            json={"code": place, "flow": "resident", "request_id": "nginx-scan-0001", "profile": PROFILE})
        assert scan.status_code == 200, scan.text
        assert scan.json()["data"]["colour"] and scan.json()["data"]["id_masked"] == "110101*****0011"

        # A back-office sign-in through nginx (XSRF cookie, captcha cookie, session cookie), with a
        # forged X-Real-IP that nginx replaces by the address it saw.
        office = requests.Session()
        office.verify, office.trust_env = str(ca), False  # REQUESTS_CA_BUNDLE would win over a session's verify
        office.headers["X-Real-IP"] = "203.0.113.9"
        assert office.get(f"{base}/admin/login", timeout=10).status_code == 200
        assert office.get(f"{base}/admin/captcha", timeout=10).headers["Content-Type"].startswith("image/png")
        signed_in = office.post(f"{base}/admin/login", timeout=10, allow_redirects=False,
                                data={"phone": "13800000001", "password": password, "captcha": "ABCD",
                                      "_xsrf": office.cookies["_xsrf"]})
        assert signed_in.status_code == 302, signed_in.text[:500]
        home = office.get(f"{base}/admin/", timeout=10)
        assert home.status_code == 200 and "退出" in home.text
        with pymysql.connect(host="127.0.0.1", port=int(url.split(":")[2].split("/")[0]), user="root",
                             database=url.rsplit("/", 1)[1], charset="utf8mb4") as connection:
            with connection.cursor() as cursor:
                cursor.execute("SELECT detail FROM operation_log WHERE action = 'login' ORDER BY id DESC LIMIT 1")
                assert json.loads(cursor.fetchone()[0])["ip"] == "127.0.0.1"
                cursor.execute("SELECT COUNT(*) FROM entry_record")
                assert cursor.fetchone()[0] >= 1

        # Static files come from nginx itself (its ETag, not Tornado's).
        style = requests.get(f"{base}/admin/static/admin.css", verify=str(ca), timeout=5)
        assert style.status_code == 200 and style.headers["Content-Type"].startswith("text/css")
        assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', style.headers["ETag"])
        assert requests.get(f"{base}/static/h5/scan.css", verify=str(ca), timeout=5).status_code == 200

        # The sign-in routes' per-address limit: a burst past it is 429 in the server's envelope;
        # other routes are not limited.
        flood = requests.Session()
        flood.verify, flood.trust_env = str(ca), False  # REQUESTS_CA_BUNDLE would win over a session's verify
        flood.mount("https://", requests.adapters.HTTPAdapter(pool_maxsize=20))
        with concurrent.futures.ThreadPoolExecutor(20) as pool:  # at once: a slow machine must not pace them
            statuses = list(pool.map(lambda _: flood.get(f"{base}/admin/login", timeout=10), range(100)))
        limited = [r for r in statuses if r.status_code == 429]
        assert len(limited) >= 40, [r.status_code for r in statuses]
        assert limited and limited[0].json()["error"]["code"] == "too_many_requests"
        assert "请求过于频繁" in limited[0].json()["error"]["message"]
        assert all(flood.get(f"{base}/healthz", timeout=5).status_code == 200 for _ in range(30))

        # Body sizes: a 12 MB JSON body stops at nginx (413, the envelope); a 20 MB import is
        # passed on to the server (which refuses it there: no signed-in session).
        big = citizen.post(f"{base}/api/v1/scans", data=b"x" * (12 << 20), timeout=30,
                           headers={"Content-Type": "application/json"})
        assert big.status_code == 413 and big.json()["error"]["code"] == "body_too_large"
        upload = office.post(f"{base}/admin/imports/new", data=b"x" * (20 << 20), timeout=60,
                             headers={"Content-Type": "application/octet-stream"}, allow_redirects=False)
        assert upload.status_code != 413, upload.text[:300]
        assert "body_too_large" not in upload.text

        # The servers run no jobs (RUN_JOBS=0): the runner beside them does.
        # (Its start may take longer than the requests above on a loaded machine: waited for.)
        wait_until(lambda: "this process is the job runner" in runner.output(), 60, "the job runner", runner)
        assert "job runner" not in server.output()
    finally:
        if proxy_process is not None and proxy_process.poll() is None:
            proxy_process.terminate()
            proxy_process.wait(10)
        for started in (runner, server):
            if started is not None:
                started.stop()
        drop()


class _HeldUpstream:
    """A stand-in for the server processes: /api/v1/held is answered only once `release` is set,
    anything else at once (so one request can be kept in flight at will)."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.arrived, self.release = threading.Event(), threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/api/v1/held":
                    outer.arrived.set()
                    outer.release.wait(30)
                body = b'{"data": {"ok": true}}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_past_max_conns_nginx_refuses_at_once_as_overloaded_and_a_dead_upstream_is_unavailable(tmp_path):
    """deploy/nginx.conf's upstream limit (max_conns, here 1): a request past it is refused by nginx
    itself, 503 `overloaded` with Retry-After, while the one in flight is still served; a server
    that is not there at all is 503 `service_unavailable`."""
    nginx = nginx_binary()
    ca, cert, key = certificates(tmp_path)
    upstream = _HeldUpstream()
    https, http = free_port(), free_port()
    base = f"https://127.0.0.1:{https}"
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    config = main_config(prefix, site(prefix, https, http, upstream.port, cert, key, max_conns=1))
    proxy_process = subprocess.Popen([nginx, "-p", str(prefix), "-c", str(config), "-g",
                                      f"daemon off; pid {prefix}/nginx.pid;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    client = requests.Session()
    client.verify, client.trust_env = str(ca), False
    try:
        wait_until(lambda: answers(f"{base}/api/v1/quick", verify=str(ca)), 30, "nginx")
        with concurrent.futures.ThreadPoolExecutor(1) as side:
            held = side.submit(client.get, f"{base}/api/v1/held", timeout=30)
            assert upstream.arrived.wait(10)
            refused = requests.get(f"{base}/api/v1/quick", verify=str(ca), timeout=10)
            assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
            assert refused.json()["error"]["code"] == "overloaded" and "服务繁忙" in refused.json()["error"]["message"]
            assert not held.done()  # refused while the one in flight was still being served
            upstream.release.set()
            assert held.result().status_code == 200
        assert client.get(f"{base}/api/v1/quick", timeout=10).status_code == 200
        upstream.stop()
        gone = client.get(f"{base}/api/v1/quick", timeout=10)
        assert gone.status_code == 503 and gone.headers["Retry-After"] == "1"
        assert gone.json()["error"]["code"] == "service_unavailable"
    finally:
        upstream.stop()
        proxy_process.terminate()
        proxy_process.wait(10)
