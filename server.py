"""The platform's one server: `make_app(config)` builds the Tornado application, `main()` runs it.

    python server.py [--port 8000] [--demo]     migrate, (load demo data,) serve
    python server.py --processes N|auto         serve from N processes sharing the port (MySQL
                                                only; auto: one per core; see docs/deploy.md)
    python server.py init-db [--demo]           migrate (and load demo data), then exit
    python server.py grant-role ROLE --openid X [--provider wechat|alipay|dev] [--institution 单位]
                                                give an account a role (the back office grants medical
                                                staff by phone: 医护人员权限)
    python server.py approve-grid GRID_ID       approve a grid organisation (as 网格组织审核 does)
    python server.py create-admin --phone P --name N --role city --region 410100
                                                create a back-office admin (the first city admin)
"""

from __future__ import annotations

import argparse
import gc
import logging
import resource
import signal
import sys

import peewee
import tornado.httpserver
import tornado.ioloop
import tornado.web

from admin import handlers as admin_handlers
from admin import investigation_pages, office_pages, risk_pages, risk_record_pages, rule_pages, venue_pages
from config import Config
from handlers import h5, processes, routing
from handlers.base import NotFoundHandler, SignInPool, with_connection
from handlers.health import HealthHandler
from handlers.metrics import MetricsHandler
from handlers.openapi import OpenApiHandler, build_document
from handlers.shedding import LoadShedder
from miniprogram_api import appeals as appeals_api
from miniprogram_api import auth as auth_api
from miniprogram_api import citizen as citizen_api
from miniprogram_api import enterprise as enterprise_api
from miniprogram_api import grid as grid_api
from miniprogram_api import health as health_api
from miniprogram_api import inspector as inspector_api
from miniprogram_api import medical as medical_api
from miniprogram_api import occupancy as occupancy_api
from miniprogram_api import partner as partner_api
from miniprogram_api import phone_auth as phone_auth_api
from miniprogram_api import place_admin as place_admin_api
from miniprogram_api import privacy as privacy_api
from miniprogram_api import scan as scan_api
from miniprogram_api import screens as screens_api
from models import db as database
from models import cipher, mysql_tls, read_replica, schema, sqlite_checkpoints
from services.colours import colour_rules, colour_scheme
from services.messaging import sms
from services.operations import logsafe, metrics, pools
from services.risk_data import divisions

log = logging.getLogger("healthcode.server")



def api_routes(config: Config) -> list:
    """Every mini-program route, module by module."""
    return [*auth_api.routes(config), *citizen_api.routes(config), *health_api.routes(config),
            *inspector_api.routes(config), *scan_api.routes(config), *place_admin_api.routes(config),
            *grid_api.routes(config), *medical_api.routes(config), *phone_auth_api.routes(config),
            *enterprise_api.routes(config), *appeals_api.routes(config), *partner_api.routes(config),
            *screens_api.routes(config), *privacy_api.routes(config), *occupancy_api.routes(config)]


def http_server_options(config: Config) -> dict:
    """The HTTPServer's settings: the largest body (uploads; JSON bodies have their own limit,
    MAX_BODY_BYTES), whether the proxy's headers name the client (TRUST_PROXY_HEADERS), and how
    long a client may keep a connection idle. How long it may take to send a body
    (BODY_TIMEOUT_SECONDS) the application holds it to (handlers/oversize.py)."""
    return {"max_body_size": routing.SERVER_MAX_BODY, "xheaders": config.trust_proxy_headers,
            "idle_connection_timeout": config.idle_connection_seconds}


def database_deadlines(config: Config) -> database.Deadlines:
    """The deadlines of the server's MySQL calls, from config."""
    return database.Deadlines(connect=config.db_connect_timeout_seconds, read=config.db_read_timeout_seconds,
                              write=config.db_write_timeout_seconds, lock_wait=config.db_lock_wait_seconds)


def raise_open_file_limit() -> int:
    """Raise this process's open-file limit to the most it may have (every idle client holds a
    socket: at the usual 1,024, a thousand idle connections would refuse every new one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def platform_gateways(config: Config) -> dict:
    """The WeChat / Alipay clients, for the platforms that are configured."""
    gateways = {"wechat": None, "alipay": None}
    if config.wechat_enabled:
        from services.accounts.wechat import WechatGateway

        gateways["wechat"] = WechatGateway(config)
    if config.alipay_enabled:
        from services.accounts.alipay import AlipayGateway

        gateways["alipay"] = AlipayGateway(config)
    return gateways


def setup(config: Config) -> None:
    """Everything a process needs before touching data: key check, cipher, database binding."""
    config.check()
    cipher.configure(cipher.DataCipher.from_setting(config.data_key))
    sms.configure(config)
    database.bind(config.database_url, config.db_max_connections)
    read_replica.configure(config.read_database_url, config.db_max_connections,
                           max_lag=config.read_replica_max_lag)


def make_app(config: Config, extra_routes: list | None = None, gateways: dict | None = None) -> tornado.web.Application:
    """The Tornado application for `config` (the database must already be bound by `setup`)."""
    pools.configure(config)
    routes = [*api_routes(config), *(extra_routes or [])]
    return routing.Application(
        [
            (r"/healthz", HealthHandler),
            (r"/metrics", MetricsHandler),  # Prometheus, with METRICS_TOKEN (handlers/metrics.py)
            (r"/openapi.json", OpenApiHandler),
            *routes,
            *h5.routes(config),
            *office_pages.routes(config),  # before the generic resource routes, which match its URLs too
            *risk_pages.routes(config),
            *admin_handlers.routes(config),
            *venue_pages.routes(config),
            *investigation_pages.routes(config),
            *risk_record_pages.routes(config),
            *rule_pages.routes(config),
            (r"/admin/.*", admin_handlers.PageNotFoundHandler),  # last: after every area's pages
        ],
        config=config,
        services=gateways if gateways is not None else platform_gateways(config),
        openapi=build_document(routes),
        default_handler_class=NotFoundHandler,
        serve_traceback=False,
        log_function=logsafe.log_request,
        debug=False,
        # The back office signs in with cookies: its forms carry Tornado's XSRF token.
        sign_in_pool=SignInPool(config.sign_in_workers, config.sign_in_queue),
        shedder=LoadShedder(config.max_in_flight_requests, config.max_loop_lag_ms),
        xsrf_cookies=True,
        # Like the session cookie: Secure in production (HTTPS only), never sent cross-site.
        xsrf_cookie_kwargs={"secure": config.secure_cookies, "samesite": "Lax"},
        cookie_secret=config.secret_key,
    )


# Objects made (less those freed) before the youngest generation is collected; Python's default
# is 700, which the requests in flight alone pass (see freeze_heap).
YOUNG_COLLECTION_THRESHOLD = 10_000


def freeze_heap() -> None:
    """Collect, then freeze what the process holds, just before it serves, and collect the young
    generation less often.

    A full collection walks every object the process holds, most of them loaded by then for its
    whole life (modules, models, schemas, templates): 25-35 ms in which no request moves, the
    slowest percent of scans under load. Frozen, later collections skip them.
    A young collection walks the objects made since the last one, which are mostly those of the
    requests in flight: with 32 scans in flight the default 700 was passed once every 30 to 40
    scans, and each pass took 250 to 600 µs to free nothing. Past YOUNG_COLLECTION_THRESHOLD it
    runs when garbage has really piled up: 7% to 10% less CPU per scan on SQLite (three runs in
    turn), and no young collection at all in 8 s of scans."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])


def init_db(config: Config, demo: bool = False) -> dict:
    """Create or migrate the schema, and load the demo data when asked."""
    applied = schema.migrate()
    colour_rules.install_defaults()
    divisions.install()
    result = {"applied": applied, "version": schema.current_version()}
    if demo:
        from services.operations import demo as demo_data

        result["demo"] = demo_data.load()
    database.db.close()
    return result


def grant_role_command(args) -> int:
    """`grant-role`: an operator's command that gives an account a field role by its openid."""
    from services.accounts import auth
    from services.common.errors import ApiError

    if not args.role or not args.openid:
        print("用法：python server.py grant-role ROLE --openid OPENID [--provider wechat|alipay|dev]")
        return 2
    detail = {k: v for k, v in (("institution", args.institution), ("position", args.position)) if v}
    try:
        with database.db.connection_context():
            auth.grant_role(auth.find_account(args.provider, args.openid), args.role, **detail)
    except ApiError as error:
        print(error.message)
        return 1
    print(f"已授予角色：{auth.ROLES[args.role]}")
    return 0


def approve_grid_command(args) -> int:
    """`approve-grid`: the back office's grid approval (网格组织审核), as an operator's command."""
    from services.fieldwork import grids
    from services.common.errors import ApiError

    try:
        with database.db.connection_context():
            grid, note = grids.approve_grid(int(args.role or 0))
    except ValueError:
        print("网格组织不存在")
        return 1
    except ApiError as error:
        print(error.message)
        return 1
    print(f"已审核网格：{grid.name}（{note}）")
    return 0


def create_admin_command(args) -> int:
    """`create-admin`: there is no default account; this makes the first one. The password is
    printed once, here, and never stored in plain text."""
    from services.accounts import admin_auth
    from services.common.errors import ApiError

    try:
        with database.db.connection_context():
            admin, password = admin_auth.create_admin(None, phone=args.phone or "", name=args.name or "",
                                                      role=args.admin_role, region_code=args.region or "",
                                                      send_sms=False)
    except ApiError as error:
        print(error.message)
        return 1
    print(f"已创建{admin_auth.ROLES[admin.role]}：{admin.name}，登录账号为手机号，初始密码：{password}")
    print("请登录后立即修改密码。")
    return 0


def banner(config: Config, demo_info: dict | None) -> str:
    """What `make run` prints: where to look and how to sign in."""
    base = f"http://{config.host}:{config.port}"
    lines = [
        "健康码与场所码平台已启动 / server started",
        f"  健康检查 health:   {base}/healthz",
        f"  接口文档 OpenAPI:  {base}/openapi.json",
        f"  数据库 database:   {config.database_url}",
    ]
    if config.dev_login_enabled and demo_info:
        openids = ", ".join(demo_info["dev_openids"])
        lines += [
            "  演示账号 demo accounts (authDevLogin, openid): " + openids,
            "    demo-citizen 未填实名信息; demo-returnee 湖北返回（橙码）; demo-place-admin 场所管理员;",
            "    demo-inspector 检测员; demo-medical 医务人员; demo-grid-admin 网格管理员;",
            "    demo-contact 密接（红码）; demo-neighbour 小区有确诊病例（橙码）; demo-pharmacy 购买退烧药（黄码）",
            f"  扫码示例 scan page (经八路5号院): {base}/s/{demo_info['scan_token']}",
            f"  检测员验码（可离线）inspector page: {base}/inspect/  (场所申报码 {demo_info['declaration_code']})",
            f"  后台管理 back office: {base}/admin/  (demo: 13800000001 市级 / 13800000002 金水区 / "
            f"13800000003 小区 / 13800000004 市级（审批赋码规则） / 13800001901 市疾控, "
            f"密码 {demo_info['admin_password']})",
            f"  curl -X POST {base}/api/v1/auth/dev/login -d '{{\"openid\": \"demo-citizen\"}}'",
        ]
    if demo_info and demo_info.get("partner"):
        lines.append(partner_line(demo_info["partner"]))
    return "\n".join(lines)


def partner_line(partner: dict) -> str:
    """The demo partner's key id, and its secret in the run that created it (only then)."""
    return (f"  演示合作方 demo partner (feedRiskRecords, README 合作方接口): key id {partner['key_id']}, " +
            (f"secret {partner['secret']}  (只显示这一次 / shown only this once)" if partner["secret"] else
             "secret 已在首次创建时显示 (shown when it was created only; if lost, revoke it and create another "
             "in /admin/r/partner_keys/)"))


def main(argv: list[str] | None = None) -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description="健康码与场所码平台")
    parser.add_argument("command", nargs="?", default="serve", choices=("serve", "init-db", "grant-role", "approve-grid",
                                                                    "create-admin"))
    parser.add_argument("role", nargs="?", help="grant-role: the role to give; approve-grid: the grid id")
    parser.add_argument("--openid", help="grant-role: the account's openid / user_id")
    parser.add_argument("--provider", default="wechat", help="grant-role: wechat, alipay or dev")
    parser.add_argument("--institution", help="grant-role medical: the institution")
    parser.add_argument("--position", help="grant-role medical: the position")
    parser.add_argument("--phone", help="create-admin: the account's phone")
    parser.add_argument("--name", help="create-admin: the admin's name")
    parser.add_argument("--role", dest="admin_role", default="city", help="create-admin: city, district, ...")
    parser.add_argument("--region", help="create-admin: the region code (e.g. 410100)")
    parser.add_argument("--port", type=int, help="listening port (default: PORT or 8000)")
    parser.add_argument("--host", help="listening address (default: HOST or 127.0.0.1)")
    parser.add_argument("--demo", action="store_true", help="load the demo data (idempotent)")
    parser.add_argument("--processes", type=processes.parse_count, default=1, metavar="N|auto",
                        help="server processes sharing the port (auto: one per core; above 1 needs MySQL)")
    args = parser.parse_args(argv)

    config = Config.from_env()
    if args.port is not None:
        config = config.replace(port=args.port)
    if args.host:
        config = config.replace(host=args.host)
    config = config.with_own_base_url()
    if args.command == "serve" and args.processes > 1 and not config.database_url.startswith(("mysql", "mariadb")):
        parser.error(f"--processes {args.processes}: SQLite 只能由一个进程使用，多进程须用 MySQL"
                     f"（DATABASE_URL=mysql://...） / SQLite serves from one process only")
    logsafe.install(config.log_level, config.log_format)
    setup(config)
    try:
        result = init_db(config, args.demo)
    except (peewee.OperationalError, peewee.InterfaceError) as exc:
        # The first connection is made here: a database out of reach, or a TLS certificate that
        # does not verify, stops the start with words an operator can act on, not a traceback.
        raise SystemExit(f"无法连接数据库 / cannot connect to the database: {mysql_tls.explain(exc)}") from None
    log.info("schema at version %s%s", result["version"], f" (applied: {', '.join(result['applied'])})" if result["applied"] else "")
    if args.command == "init-db":
        print(f"数据库已就绪，版本 {result['version']}")
        if result.get("demo"):
            print(partner_line(result["demo"]["partner"]))
        return
    if args.command == "grant-role":
        raise SystemExit(grant_role_command(args))
    if args.command == "approve-grid":
        raise SystemExit(approve_grid_command(args))
    if args.command == "create-admin":
        raise SystemExit(create_admin_command(args))

    metrics.prune()  # the files of earlier runs' processes go (before any fork: see services/operations/metrics.py)
    number, listening = 0, None
    if args.processes > 1:
        # The port is bound once, here; everything that holds a connection or a thread is made
        # after the fork, in each process (handlers/processes.py).
        database.db.obj.close_all()
        number, listening = processes.fork(args.processes, processes.bind(args.processes, config.port, config.host))
    # Serving: every MySQL call now has its deadline (the migration above had none: an ALTER of a
    # big table may take minutes).
    database.bind(config.database_url, config.db_max_connections, database_deadlines(config))
    read_replica.configure(config.read_database_url, config.db_max_connections, database_deadlines(config),
                           config.read_replica_max_lag)
    raise_open_file_limit()
    app = make_app(config)
    server = tornado.httpserver.HTTPServer(app, **http_server_options(config))
    if listening is not None:
        server.add_sockets([listening])
    else:
        server.listen(config.port, config.host)
    runner = None
    if config.run_jobs and number == 0:  # the jobs run in one place: the first process, if at all
        from jobs.scheduler import start_runner

        runner = start_runner(config)
    checkpointer = sqlite_checkpoints.start(database.db.obj)  # not on the event loop, inside a scan's commit
    freeze_heap()
    if number == 0:
        print(banner(config, result.get("demo")) + (f"\n  服务进程 processes: {args.processes}（共用端口 {config.port}）"
                                                     if args.processes > 1 else ""), flush=True)
    loop = tornado.ioloop.IOLoop.current()
    with_connection(colour_scheme.refresh)
    colour_scheme.keep_fresh(loop, with_connection)  # the scan reads the scheme; the loop never waits for it
    loop.asyncio_loop.add_signal_handler(signal.SIGTERM, loop.stop)  # a service manager's stop
    try:
        loop.start()
    except KeyboardInterrupt:
        pass
    # Every scan answered was committed already; what is left is to stop taking work and leave
    # the SQLite file whole (its WAL checkpointed).
    server.stop()
    if runner is not None:
        from jobs.scheduler import stop_runner

        stop_runner(*runner)
    if checkpointer is not None:
        checkpointer.stop()
    print("已停止 / stopped", file=sys.stderr)


if __name__ == "__main__":
    main()
