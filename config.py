"""One environment-driven configuration for the server, the jobs and the tests.

Every setting comes from an environment variable of the same name (and an optional `.env` file in
the working directory, which never overrides the real environment). README lists them all;
`.env.example` is the template.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from dataclasses import dataclass, field

DEV_SECRET = "dev-only-secret-change-me-0123456789abcdef"
# A fixed 256-bit key so that a development database stays readable across restarts. Production
# refuses to start with it (see Config.check).
DEFAULT_PUBLIC_BASE_URL = "http://127.0.0.1:8000"
DEV_DATA_KEY = base64.b64encode(b"dev-only-data-key-32-bytes-long!").decode()


def _bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass
class Config:
    """Settings of one deployment. Build it with `Config.from_env()` or `TestConfig(...)`."""

    app_env: str = "development"  # development | test | production
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = "sqlite:///data/healthcode.db"
    db_max_connections: int = 20
    # Deadlines of every MySQL call (models.db.Deadlines): a frozen or unreachable database is a
    # 503 within 2 s. The lock wait (whole seconds) stays under the read deadline, so that the
    # server's own refusal comes first.
    db_connect_timeout_seconds: float = 0.5
    db_read_timeout_seconds: float = 1.2
    db_write_timeout_seconds: float = 1.2
    db_lock_wait_seconds: int = 1
    # A MariaDB replica for the back office's heavy reads (models/read_replica.py); empty: none.
    read_database_url: str = ""
    read_replica_max_lag: float = 30.0  # seconds behind the primary past which the primary serves
    # Load shedding (handlers.shedding): a process's capacity, requests in flight and event-loop lag.
    # In flight: about what a process answers in 50 ms at full speed (a scan awaits its group
    # commit), so that an admitted scan waits no longer than that behind the others.
    max_in_flight_requests: int = 32
    max_loop_lag_ms: float = 25.0
    # Tornado's limits on a client: how long a kept-alive connection may wait between requests,
    # and how long a request's body may take to arrive.
    idle_connection_seconds: float = 60.0
    body_timeout_seconds: float = 60.0
    secret_key: str = DEV_SECRET
    # DATA_KEY: base64 of 32 bytes, or several as "id:base64,id:base64" (first one encrypts).
    data_key: str = DEV_DATA_KEY
    max_body_bytes: int = 64 * 1024
    # feedRiskRecords only: a batch of 10,000 risk records needs several MB (at most the 10 MB that
    # the HTTP server reads of any body, handlers.routing.SERVER_MAX_BODY).
    partner_max_body_bytes: int = 8 * 1024 * 1024
    # Behind a reverse proxy that sets X-Real-Ip / X-Forwarded-For: take the client's address
    # from them. Off, a client that connects directly could name any address it likes (and so
    # pass the per-address SMS limit, or sign the audit log's entries with another address).
    trust_proxy_headers: bool = False
    token_idle_seconds: int = 7 * 24 * 3600
    token_absolute_seconds: int = 30 * 24 * 3600
    wechat_appid: str = ""
    wechat_secret: str = ""
    wechat_api_base: str = "https://api.weixin.qq.com/"
    alipay_appid: str = ""
    alipay_private_key: str = ""
    alipay_public_key: str = ""
    alipay_gateway: str = "https://openapi.alipay.com/gateway.do"
    http_timeout_seconds: float = 5.0
    # SMS: "dev" (recorded in sms_message, never sent) or "aliyun" (Alibaba Cloud SMS). ALIYUN_SMS_TEMPLATES
    # maps each message to its approved template code: "code:SMS_1,new_password:SMS_2,account_created:SMS_3".
    sms_provider: str = "dev"
    aliyun_sms_access_key_id: str = ""
    aliyun_sms_access_key_secret: str = ""
    aliyun_sms_sign_name: str = ""
    aliyun_sms_templates: str = ""
    aliyun_sms_endpoint: str = "https://dysmsapi.aliyuncs.com"
    colour_scheme: int = 4  # 4: green/yellow/orange/red; 3: orange shown as yellow (D1)
    # CODE_SIGNING_KEYS: Ed25519 seeds, "id:base64,id:base64" (first signs, all verify); empty:
    # derived from SECRET_KEY.
    code_signing_keys: str = ""
    health_code_ttl_seconds: int = 60
    # N1: how long a door screen's place code lasts before the next one (a code is refused two
    # windows after it first showed).
    screen_code_window_seconds: int = 30
    paper_code_days: int = 365
    run_jobs: bool = True
    # Tests only: every captcha answers this. Production refuses to start with it set.
    captcha_fixed_answer: str = ""
    # Password checks of sign-ins run on this many threads; past this many waiting, 429 at once.
    sign_in_workers: int = 2
    sign_in_queue: int = 16
    # Bounded pools for every other blocking call (services/operations/pools.py): peewee queries of the back
    # office and the API's synchronous handlers, CPU work with no database (drawings, posters,
    # spreadsheets), the platforms' SDK calls; and the processes that build big exports.
    db_pool_threads: int = 4
    cpu_pool_threads: int = 1
    sdk_pool_threads: int = 4
    export_processes: int = 1
    admin_cookie_secure: bool | None = None  # default: secure cookies in production only
    public_base_url: str = DEFAULT_PUBLIC_BASE_URL  # what printed QR codes point at (the H5 pages)
    # Outgoing mail (staff-status exports, F5). No SMTP_HOST: exports are kept and fail as "not sent".
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = ""
    smtp_starttls: bool = True
    # H1 investigation-list imports: upload size, inflated size, data rows; the railway list keeps
    # passengers who boarded at these stations (comma-separated, matched as part of the name).
    import_max_bytes: int = 100 * 1024 * 1024
    import_max_uncompressed_bytes: int = 2 * 1024 * 1024 * 1024
    import_max_rows: int = 1_000_000
    import_max_columns: int = 200  # a sheet declaring more columns is refused at upload
    import_tmp_dir: str = ""  # where uploads wait for their import (default: the system temp dir)
    # A queued or running import whose heartbeat is older than this lost its process: it is shown
    # as interrupted (what it saved is kept; the same file can be uploaded again).
    import_stale_seconds: int = 300
    railway_boarding_stations: str = "武汉,汉口,武昌"
    not_reported_at: str = "10:00"  # I3: when the daily not-reported lists are built (HH:MM, Asia/Shanghai)
    retention_days: int = 28  # I4: entry records and temperatures older than this are deleted (statistics stay)
    occupancy_expire_hours: int = 12  # N8: a presence older than this (no scan out) no longer counts
    stats_window_hours: int = 3  # I2: the last completed hours the hourly statistics job always recomputes
    job_lock_seconds: int = 600  # I5: a job runner's lock lapses this long after its last heartbeat
    # Tests and demos only: every job every N seconds (1-59) instead of its schedule, so a test sees
    # several runs in seconds. Production refuses it.
    jobs_every_seconds: int = 0
    tz: str = "Asia/Shanghai"
    log_level: str = "INFO"
    log_format: str = "text"  # text | json: one JSON object a line (services/operations/logsafe.py)
    # /metrics answers only a request bearing this token; empty: /metrics is off (404).
    metrics_token: str = ""
    extra: dict = field(default_factory=dict)

    ENV_NAMES = {
        "APP_ENV": ("app_env", str),
        "HOST": ("host", str),
        "PORT": ("port", int),
        "DATABASE_URL": ("database_url", str),
        "DB_MAX_CONNECTIONS": ("db_max_connections", int),
        "DB_CONNECT_TIMEOUT_SECONDS": ("db_connect_timeout_seconds", float),
        "DB_READ_TIMEOUT_SECONDS": ("db_read_timeout_seconds", float),
        "DB_WRITE_TIMEOUT_SECONDS": ("db_write_timeout_seconds", float),
        "DB_LOCK_WAIT_SECONDS": ("db_lock_wait_seconds", int),
        "READ_DATABASE_URL": ("read_database_url", str),
        "READ_REPLICA_MAX_LAG": ("read_replica_max_lag", float),
        "MAX_IN_FLIGHT_REQUESTS": ("max_in_flight_requests", int),
        "MAX_LOOP_LAG_MS": ("max_loop_lag_ms", float),
        "IDLE_CONNECTION_SECONDS": ("idle_connection_seconds", float),
        "BODY_TIMEOUT_SECONDS": ("body_timeout_seconds", float),
        "SECRET_KEY": ("secret_key", str),
        "DATA_KEY": ("data_key", str),
        "MAX_BODY_BYTES": ("max_body_bytes", int),
        "PARTNER_MAX_BODY_BYTES": ("partner_max_body_bytes", int),
        "TRUST_PROXY_HEADERS": ("trust_proxy_headers", bool),
        "TOKEN_IDLE_SECONDS": ("token_idle_seconds", int),
        "TOKEN_ABSOLUTE_SECONDS": ("token_absolute_seconds", int),
        "WECHAT_APPID": ("wechat_appid", str),
        "WECHAT_SECRET": ("wechat_secret", str),
        "WECHAT_API_BASE": ("wechat_api_base", str),
        "ALIPAY_APPID": ("alipay_appid", str),
        "ALIPAY_PRIVATE_KEY": ("alipay_private_key", str),
        "ALIPAY_PUBLIC_KEY": ("alipay_public_key", str),
        "ALIPAY_GATEWAY": ("alipay_gateway", str),
        "HTTP_TIMEOUT_SECONDS": ("http_timeout_seconds", float),
        "SMS_PROVIDER": ("sms_provider", str),
        "ALIYUN_SMS_ACCESS_KEY_ID": ("aliyun_sms_access_key_id", str),
        "ALIYUN_SMS_ACCESS_KEY_SECRET": ("aliyun_sms_access_key_secret", str),
        "ALIYUN_SMS_SIGN_NAME": ("aliyun_sms_sign_name", str),
        "ALIYUN_SMS_TEMPLATES": ("aliyun_sms_templates", str),
        "ALIYUN_SMS_ENDPOINT": ("aliyun_sms_endpoint", str),
        "COLOUR_SCHEME": ("colour_scheme", int),
        "CODE_SIGNING_KEYS": ("code_signing_keys", str),
        "HEALTH_CODE_TTL_SECONDS": ("health_code_ttl_seconds", int),
        "SCREEN_CODE_WINDOW_SECONDS": ("screen_code_window_seconds", int),
        "PAPER_CODE_DAYS": ("paper_code_days", int),
        "RUN_JOBS": ("run_jobs", bool),
        "PUBLIC_BASE_URL": ("public_base_url", str),
        "SMTP_HOST": ("smtp_host", str),
        "SMTP_PORT": ("smtp_port", int),
        "SMTP_USER": ("smtp_user", str),
        "SMTP_PASSWORD": ("smtp_password", str),
        "SMTP_FROM": ("smtp_from", str),
        "SMTP_STARTTLS": ("smtp_starttls", bool),
        "NOT_REPORTED_AT": ("not_reported_at", str),
        "IMPORT_MAX_BYTES": ("import_max_bytes", int),
        "IMPORT_MAX_UNCOMPRESSED_BYTES": ("import_max_uncompressed_bytes", int),
        "IMPORT_MAX_ROWS": ("import_max_rows", int),
        "IMPORT_MAX_COLUMNS": ("import_max_columns", int),
        "IMPORT_TMP_DIR": ("import_tmp_dir", str),
        "IMPORT_STALE_SECONDS": ("import_stale_seconds", int),
        "RAILWAY_BOARDING_STATIONS": ("railway_boarding_stations", str),
        "RETENTION_DAYS": ("retention_days", int),
        "OCCUPANCY_EXPIRE_HOURS": ("occupancy_expire_hours", int),
        "STATS_WINDOW_HOURS": ("stats_window_hours", int),
        "JOB_LOCK_SECONDS": ("job_lock_seconds", int),
        "JOBS_EVERY_SECONDS": ("jobs_every_seconds", int),
        "CAPTCHA_FIXED_ANSWER": ("captcha_fixed_answer", str),
        "SIGN_IN_WORKERS": ("sign_in_workers", int),
        "SIGN_IN_QUEUE": ("sign_in_queue", int),
        "DB_POOL_THREADS": ("db_pool_threads", int),
        "CPU_POOL_THREADS": ("cpu_pool_threads", int),
        "SDK_POOL_THREADS": ("sdk_pool_threads", int),
        "EXPORT_PROCESSES": ("export_processes", int),
        "ADMIN_COOKIE_SECURE": ("admin_cookie_secure", bool),
        "TZ": ("tz", str),
        "LOG_LEVEL": ("log_level", str),
        "LOG_FORMAT": ("log_format", str),
        "METRICS_TOKEN": ("metrics_token", str),
    }

    @classmethod
    def from_env(cls, environ: dict | None = None, dotenv_path: str = ".env") -> "Config":
        """Read the settings from `environ` (default: os.environ plus `.env` if present)."""
        if environ is None:
            if os.path.exists(dotenv_path):
                from dotenv import load_dotenv

                load_dotenv(dotenv_path, override=False)
            environ = dict(os.environ)
        values = {}
        for name, (attr, kind) in cls.ENV_NAMES.items():
            if environ.get(name, "") != "":
                raw = environ[name]
                values[attr] = _bool(raw) if kind is bool else kind(raw)
        return cls(**values)

    def replace(self, **changes) -> "Config":
        """A copy with some settings changed (tests use it)."""
        return dataclasses.replace(self, **changes)

    def with_own_base_url(self) -> "Config":
        """Without PUBLIC_BASE_URL, the links and QR codes a server hands out point at where it
        listens (`--port 8622`: http://127.0.0.1:8622), not at the default port."""
        if self.public_base_url != DEFAULT_PUBLIC_BASE_URL:
            return self
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        return self.replace(public_base_url=f"http://{host}:{self.port}")

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over HTTPS: always in production unless ADMIN_COOKIE_SECURE says otherwise."""
        return self.is_production if self.admin_cookie_secure is None else self.admin_cookie_secure

    @property
    def wechat_enabled(self) -> bool:
        return bool(self.wechat_appid and self.wechat_secret)

    @property
    def alipay_enabled(self) -> bool:
        return bool(self.alipay_appid and self.alipay_private_key and self.alipay_public_key)

    @property
    def dev_login_enabled(self) -> bool:
        """A2: the development sign-in exists only without real platforms and never in production."""
        return not self.is_production and not self.wechat_enabled and not self.alipay_enabled

    def check(self) -> None:
        """Refuse settings that must never reach production."""
        if self.is_production:
            if self.secret_key == DEV_SECRET or len(self.secret_key) < 32:
                raise SystemExit("生产环境必须设置 SECRET_KEY（至少 32 个字符）")
            if self.data_key == DEV_DATA_KEY:
                raise SystemExit("生产环境必须设置 DATA_KEY（32 字节密钥的 base64）")
            if self.captcha_fixed_answer:
                raise SystemExit("生产环境不允许设置 CAPTCHA_FIXED_ANSWER")
            if self.jobs_every_seconds:
                raise SystemExit("生产环境不允许设置 JOBS_EVERY_SECONDS")
        if not 0 <= self.jobs_every_seconds <= 59:
            raise SystemExit("JOBS_EVERY_SECONDS 只能是 0（按计划运行）或 1 至 59 秒")
        if self.colour_scheme not in (3, 4):
            raise SystemExit("COLOUR_SCHEME 只能是 3 或 4")
        if not 1 <= self.screen_code_window_seconds <= 3600:
            raise SystemExit("SCREEN_CODE_WINDOW_SECONDS 应为 1 至 3600 秒")
        if self.log_format not in ("text", "json"):
            raise SystemExit("LOG_FORMAT 只能是 text 或 json")
        if self.metrics_token and len(self.metrics_token) < 16:
            raise SystemExit("METRICS_TOKEN 至少 16 个字符")
        if self.sms_provider not in ("dev", "aliyun"):
            raise SystemExit("SMS_PROVIDER 只能是 dev 或 aliyun")
        if self.sms_provider == "aliyun":
            from services.messaging.sms import TEMPLATES
            from services.messaging.sms_aliyun import parse_templates

            if not (self.aliyun_sms_access_key_id and self.aliyun_sms_access_key_secret and self.aliyun_sms_sign_name):
                raise SystemExit("SMS_PROVIDER=aliyun 需要设置 ALIYUN_SMS_ACCESS_KEY_ID、ALIYUN_SMS_ACCESS_KEY_SECRET 和 "
                                 "ALIYUN_SMS_SIGN_NAME")
            missing = sorted(set(TEMPLATES) - set(parse_templates(self.aliyun_sms_templates)))
            if missing:
                raise SystemExit(f"ALIYUN_SMS_TEMPLATES 缺少模板编号：{', '.join(missing)}")


def TestConfig(**changes) -> Config:
    """Settings for the test suite: in-memory friendly, no real platform credentials."""
    base = Config(
        app_env="test",
        database_url="sqlite:///:memory:",
        secret_key="test-secret-key-0123456789abcdef0123456789",
        data_key=base64.b64encode(b"test-data-key-32-bytes-long-000!").decode(),
        http_timeout_seconds=2.0,
        run_jobs=False,
        # A shared test machine's loop lags now and then: tests of other things are never shed.
        max_in_flight_requests=100_000,
        max_loop_lag_ms=60_000.0,
    )
    return base.replace(**changes)
