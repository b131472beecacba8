"""/metrics (Prometheus, multiprocess mode) and the request id: who may read the metrics, what a
scan counts, several processes in one answer, X-Request-Id on every answer."""

import os
import re
import subprocess
import sys
import textwrap
import time
import uuid

from prometheus_client.parser import text_string_to_metric_families

from models.regions import Region
from services.operations import demo, metrics
from services.venues import places
from tests.conftest import assert_error, row_counts

TOKEN = "metrics-token-0123456789abcdef"
ID = "110101199003070011"
PROFILE = {"name": "王小明", "id_number": ID, "phone": "13800000000", "address": "经八路5号院3号楼",
           "building": "3", "room": "501", "resident_category": "owner"}
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def value(text: str, name: str, **labels) -> float:
    """The sample `name` with these labels in a Prometheus text answer (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def scrape(api) -> str:
    response = api.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.text


def scan(api, token, **body):
    return api.call("scanPlace", {"code": token, "flow": "resident", "request_id": uuid.uuid4().hex, **body})


def test_metrics_without_or_with_a_wrong_token_are_401_and_write_nothing(make_server, db):
    api = make_server(metrics_token=TOKEN)
    before = row_counts()
    assert_error(api.get("/metrics"), 401, "unauthorized")
    assert_error(api.get("/metrics", headers={"Authorization": "Bearer wrong-token-0123456789"}), 401, "unauthorized")
    assert_error(api.get("/metrics", headers={"Authorization": TOKEN}), 401, "unauthorized")  # no scheme
    assert_error(api.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}), 401, "unauthorized")
    assert row_counts() == before


def test_metrics_are_off_without_a_configured_token(make_server, db):
    api = make_server()
    assert_error(api.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}), 404, "not_found")


def test_a_scan_is_counted_by_operation_status_colour_and_admission(make_server, db, backend):
    demo.load()
    region = Region.get(Region.code == "410105001001001")
    _, code = places.create_place(place_type_code="compound", name=region.name, region=region)
    api = make_server(metrics_token=TOKEN)
    api.dev_login("citizen-metrics")
    before = scrape(api)
    assert scan(api, code.token, profile=PROFILE, temperature=36.5).json()["data"]["colour"] == "green"
    assert scan(api, code.token).status_code == 200  # the group commit's path
    assert scan(api, code.token, temperature=38.2).json()["data"]["admit"] is False  # a fever: red, refused
    after = scrape(api)

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("healthcode_requests_total", operation="scanPlace", status="200") >= 3
    assert grew("healthcode_request_duration_seconds_count", operation="scanPlace") >= 3
    assert grew("healthcode_scans_total", colour="green", admitted="true") >= 2
    assert grew("healthcode_scans_total", colour="red", admitted="false") >= 1
    assert grew("healthcode_group_commit_batch_size_count", backend=backend[0]) >= 1
    # A refused request is counted with its status; pages and unknown paths by their handler.
    assert_error(api.get("/metrics"), 401, "unauthorized")
    api.get("/no/such/path")
    text = scrape(api)
    assert value(text, "healthcode_requests_total", operation="MetricsHandler", status="401") >= 1
    assert value(text, "healthcode_requests_total", operation="NotFoundHandler", status="404") >= 1
    # The sampler's gauges: this (live) process's loop lag; on MariaDB, the loop's read pool.
    assert "healthcode_event_loop_lag_seconds " in text and "healthcode_requests_in_flight " in text
    assert 'healthcode_db_pool_in_use{pool="sign_in"}' in text and 'healthcode_db_pool_waiting{pool="sign_in"}' in text
    if backend[0] == "mysql":
        deadline = time.monotonic() + 5
        while 'healthcode_db_pool_in_use{pool="loop_read"}' not in text and time.monotonic() < deadline:
            time.sleep(0.2)
            text = scrape(api)
        assert 'healthcode_db_pool_in_use{pool="loop_read"}' in text
        assert 'healthcode_db_pool_waiting{pool="peewee"}' in text


def test_jobs_runs_durations_and_failures_are_counted(db):
    from jobs import runner_lock

    def boom():
        raise RuntimeError("failed on purpose")

    before = metrics.collect().decode()
    runner_lock.run_exclusively("metrics_test_job", lambda: {"ok": 1})
    try:
        runner_lock.run_exclusively("metrics_test_job", boom)
    except RuntimeError:
        pass
    after = metrics.collect().decode()
    for outcome in ("ok", "failed"):
        assert value(after, "healthcode_job_runs_total", job="metrics_test_job", outcome=outcome) - \
            value(before, "healthcode_job_runs_total", job="metrics_test_job", outcome=outcome) == 1
    assert value(after, "healthcode_job_duration_seconds_count", job="metrics_test_job") - \
        value(before, "healthcode_job_duration_seconds_count", job="metrics_test_job") == 2


# Run in a process of its own: counts with the metrics, forks a child that counts too, and says
# its figures. Two of them write to one directory, as a deployment's processes do.
CHILD = textwrap.dedent("""
    import os, sys
    from services.operations import metrics
    metrics.count_scan("green", True)
    metrics.JOB_RUNS.labels("hourly_stats", "ok").inc()
    metrics.LOOP_LAG.set(0.004)
    pid = os.fork()
    if pid == 0:  # the child: its own files, its own figures
        metrics.count_scan("green", True)
        metrics.count_scan("green", True)
        os._exit(0)
    os.waitpid(pid, 0)
    print(os.getpid())
""")


def test_several_processes_write_to_one_directory_and_one_collection_sums_them(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": REPO}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", CHILD], env=env, cwd=REPO, check=True, capture_output=True, timeout=60)
    files = sorted(os.listdir(tmp_path))
    assert len([f for f in files if f.startswith("counter_")]) == 4  # two processes, each with a forked child
    text = metrics.collect(str(tmp_path)).decode()
    assert value(text, "healthcode_scans_total", colour="green", admitted="true") == 6
    assert value(text, "healthcode_job_runs_total", job="hourly_stats", outcome="ok") == 2
    # Those processes are gone: their live gauges no longer count, and a fresh start drops the rest.
    assert "healthcode_event_loop_lag_seconds " not in text
    assert not [f for f in os.listdir(tmp_path) if f.startswith("gauge_live")]


def test_a_fresh_start_removes_the_files_of_dead_processes_only(tmp_path, monkeypatch):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()
    (tmp_path / f"counter_{dead}.db").write_bytes(b"")
    (tmp_path / f"counter_{os.getpid()}.db").write_bytes(b"")
    monkeypatch.setattr(metrics, "DIRECTORY", str(tmp_path))
    assert metrics.prune() == 1
    assert os.listdir(tmp_path) == [f"counter_{os.getpid()}.db"]


def test_the_request_id_is_taken_when_sane_made_otherwise_and_returned(make_server, db):
    api = make_server()
    given = "req-0123456789abcdef"
    assert api.get("/healthz", headers={"X-Request-Id": given}).headers["X-Request-Id"] == given
    for insane in ("short", "x" * 65, "has space 0123456", "13800000000;<script>"):
        made = api.get("/healthz", headers={"X-Request-Id": insane}).headers["X-Request-Id"]
        assert re.fullmatch(r"[0-9a-f]{32}", made), made
    first, second = (api.get("/healthz").headers["X-Request-Id"] for _ in range(2))
    assert first != second and re.fullmatch(r"[0-9a-f]{32}", first)
    # Errors, the back office and unknown paths carry it too.
    assert api.get("/no/such/path", headers={"X-Request-Id": given}).headers["X-Request-Id"] == given
    assert api.get("/admin/login", headers={"X-Request-Id": given}).headers["X-Request-Id"] == given
    assert api.call("getProfile", headers={"X-Request-Id": given}).headers["X-Request-Id"] == given  # 401


def test_the_grafana_dashboard_reads_only_metrics_that_exist():
    import json

    from prometheus_client.metrics import MetricWrapperBase

    known = set()
    for metric in vars(metrics).values():
        if isinstance(metric, MetricWrapperBase):
            family = metric.describe()[0]
            known |= {family.name, family.name + "_total"} if family.type == "counter" else \
                {family.name} | {family.name + suffix for suffix in ("_bucket", "_sum", "_count")}
    with open(os.path.join(REPO, "deploy", "grafana-dashboard.json"), encoding="utf-8") as file:
        dashboard = json.load(file)
    used = {name for panel in dashboard["panels"] for target in panel["targets"]
            for name in re.findall(r"healthcode_\w+", target["expr"])}
    assert used and used <= known, sorted(used - known)
    assert {family.split("_bucket")[0] for family in used} >= {"healthcode_scans_total", "healthcode_db_pool_in_use"}


def test_import_rows_are_counted_good_and_bad_by_source(db, tmp_path):
    from services.accounts import admin_auth
    from services.operations.demo import ZHENGZHOU
    from services.investigations import sources
    from services.common.regions import load_tree
    from tests.fakes import xlsx_files as files
    from tests.services.test_import_pipeline import do_import

    load_tree(ZHENGZHOU)
    admin, _ = admin_auth.create_admin(None, phone="13810000001", name="市级管理员", role="city",
                                       region_code="410100", send_sms=False)
    before = metrics.collect().decode()
    job = do_import(admin, tmp_path, files.telecom_xlsx(30, bad_every=10))
    after = metrics.collect().decode()
    assert (job.good, job.bad) == (27, 3)
    for result, rows in (("good", 27), ("bad", 3)):
        grew = value(after, "healthcode_import_rows_total", source=sources.TELECOM.code, result=result) - \
            value(before, "healthcode_import_rows_total", source=sources.TELECOM.code, result=result)
        assert grew == rows
