"""/metrics: every process's Prometheus metrics (services/operations/metrics.py), for the monitoring only.

Not public: a scrape must bear `Authorization: Bearer <METRICS_TOKEN>`; a missing or wrong token
is 401 `unauthorized` in the JSON envelope. Without METRICS_TOKEN the route answers 404 as any
unknown path does (metrics off). Prometheus's scrape config: `authorization: {credentials: ...}`.
"""

from __future__ import annotations

import hmac

from handlers import shedding
from handlers.base import BaseHandler
from services.common.errors import ApiError
from services.operations import metrics


class MetricsHandler(BaseHandler):
    """The metrics in Prometheus's text format, for the bearer of METRICS_TOKEN."""

    shed_priority = shedding.SCAN  # and while the process is busy

    def get(self):
        expected = self.config.metrics_token
        if not expected:
            raise ApiError("not_found", "接口不存在", 404)
        scheme, _, given = self.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
            raise ApiError("unauthorized", "监控指标需要有效的令牌", 401)
        self.set_header("Content-Type", metrics.CONTENT_TYPE)
        self.finish(metrics.collect())
