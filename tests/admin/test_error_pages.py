"""The back office's failures as pages (handlers/failures.py): a database outage is a 503 page to
retry, Tornado's own refusals get the pages' words, and the progress bar's JSON the envelope."""

from tests.admin.conftest import page_error
from tests.conftest import row_counts

UNAVAILABLE = "服务暂时不可用，请稍后重试"


def test_a_database_outage_is_a_503_page_to_retry_and_writes_nothing(as_admin, database_out_of_reach):
    client = as_admin("jinshui")
    xsrf = client.xsrf()
    before = row_counts()
    with database_out_of_reach():
        page = client.get("/admin/r/residents/")
        posted = client.post("/admin/password", {"old_password": "x", "new_password": "Another-Pass-2026",
                                                 "confirm_password": "Another-Pass-2026"}, xsrf=xsrf)
        progress = client.get("/admin/imports/1/progress")
    for response in (page, posted):
        assert response.status_code == 503 and response.headers["Retry-After"] == "1"
        assert page_error(response) == UNAVAILABLE and "Traceback" not in response.text
    assert progress.status_code == 503 and progress.headers["Retry-After"] == "1"
    assert progress.json()["error"] == {"code": "service_unavailable", "message": UNAVAILABLE, "field": None}
    assert row_counts() == before
    assert client.get("/admin/r/residents/").status_code == 200  # back once the database is


def test_refusals_that_are_not_the_apps_get_the_pages_words(as_admin):
    client = as_admin("jinshui")
    missing = client.get("/admin/no-such-page")
    assert missing.status_code == 404 and page_error(missing) == "页面不存在"
    forged = client.post("/admin/password", {"old_password": "x"}, xsrf="forged")
    assert forged.status_code == 403 and page_error(forged) == "请求已失效，请刷新页面后重试"
    unknown_job = client.get("/admin/imports/999999/progress")  # the app's own error keeps its words
    assert unknown_job.status_code == 404
    assert unknown_job.json()["error"] == {"code": "not_found", "message": "导入记录不存在", "field": None}
