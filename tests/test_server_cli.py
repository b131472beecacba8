"""The server as `make run` starts it: a real process, a fresh SQLite file under a data folder."""

import gc
import os
import re
import subprocess
import sys
import time

import requests

import server
from tests.fakes.server_thread import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "ALIPAY_", "DATABASE_URL", "APP_ENV"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/data/healthcode.db"
    return env


def test_init_db_creates_and_migrates_a_fresh_database(tmp_path):
    run = subprocess.run([sys.executable, "server.py", "init-db", "--demo"], cwd=ROOT, env=_env(tmp_path),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "数据库已就绪" in run.stdout
    assert (tmp_path / "data" / "healthcode.db").exists()
    assert re.search(r"演示合作方.*key id pk_[0-9a-f]+, secret [A-Za-z0-9_-]{40,}", run.stdout)  # the first time
    again = subprocess.run([sys.executable, "server.py", "init-db", "--demo"], cwd=ROOT, env=_env(tmp_path),
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    key_id = re.search(r"key id (pk_[0-9a-f]+)", run.stdout).group(1)
    assert key_id in again.stdout and "secret 已在首次创建时显示" in again.stdout  # never again


def test_serve_prints_the_urls_and_demo_accounts_and_answers(tmp_path):
    port = free_port()
    process = subprocess.Popen([sys.executable, "server.py", "--demo", "--port", str(port)], cwd=ROOT,
                               env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if requests.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        login = requests.post(base + "/api/v1/auth/dev/login", json={"openid": "demo-citizen"}, timeout=5)
        assert login.status_code == 200
        token = login.json()["data"]["token"]
        headers = {"Authorization": f"Bearer {token}"}
        saved = requests.put(base + "/api/v1/me/profile", headers=headers, timeout=5,
                             json={"name": "张三", "id_number": "110101199003070011", "phone": "13800000000"})
        assert saved.json()["data"]["id_number"] == "110101*****0011"
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert f"{base}/healthz" in output and f"{base}/openapi.json" in output
    assert "demo-citizen" in output
    assert "110101199003070011" not in output and token not in output
    # SIGTERM (a service manager's stop) ends it in order: the last checkpoint leaves the WAL empty.
    assert process.returncode == 0 and "已停止" in output
    wal = tmp_path / "data" / "healthcode.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0


def test_production_refuses_development_keys(tmp_path):
    env = _env(tmp_path)
    env["APP_ENV"] = "production"
    run = subprocess.run([sys.executable, "server.py", "init-db"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode != 0
    assert "SECRET_KEY" in run.stderr + run.stdout


def test_grant_role_command(tmp_path):
    env = _env(tmp_path)
    assert subprocess.run([sys.executable, "server.py", "init-db", "--demo"], cwd=ROOT, env=env,
                          capture_output=True, timeout=60).returncode == 0
    ok = subprocess.run([sys.executable, "server.py", "grant-role", "medical", "--openid", "demo-citizen",
                         "--provider", "dev"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "医务人员" in ok.stdout, ok.stdout + ok.stderr
    unknown = subprocess.run([sys.executable, "server.py", "grant-role", "medical", "--openid", "nobody",
                              "--provider", "dev"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 1 and "账号不存在" in unknown.stdout
    bad_role = subprocess.run([sys.executable, "server.py", "grant-role", "emperor", "--openid", "demo-citizen",
                               "--provider", "dev"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert bad_role.returncode == 1 and "未知角色" in bad_role.stdout


def test_create_admin_command_makes_the_first_city_admin(tmp_path):
    env = _env(tmp_path)
    assert subprocess.run([sys.executable, "server.py", "init-db", "--demo"], cwd=ROOT, env=env,
                          capture_output=True, timeout=60).returncode == 0
    run = subprocess.run([sys.executable, "server.py", "create-admin", "--phone", "13912345678", "--name", "王市",
                          "--role", "city", "--region", "410100"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0 and "初始密码" in run.stdout, run.stdout + run.stderr
    again = subprocess.run([sys.executable, "server.py", "create-admin", "--phone", "13912345678", "--name", "王市",
                            "--role", "city", "--region", "410100"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=60)
    assert again.returncode == 1 and "已是管理员账号" in again.stdout


def test_before_serving_the_heap_is_frozen_and_young_collections_wait_for_garbage():
    thresholds = gc.get_threshold()
    try:
        server.freeze_heap()
        assert gc.get_freeze_count() > 0
        # The older generations keep Python's thresholds; only the youngest waits longer.
        assert gc.get_threshold() == (server.YOUNG_COLLECTION_THRESHOLD, *thresholds[1:])
        assert server.YOUNG_COLLECTION_THRESHOLD > thresholds[0]
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_links_point_at_the_port_served_unless_a_public_url_is_set():
    from config import Config

    assert Config(port=8622).with_own_base_url().public_base_url == "http://127.0.0.1:8622"
    assert Config(host="0.0.0.0", port=8622).with_own_base_url().public_base_url == "http://127.0.0.1:8622"
    given = Config(port=8622, public_base_url="https://code.example.cn")
    assert given.with_own_base_url().public_base_url == "https://code.example.cn"
