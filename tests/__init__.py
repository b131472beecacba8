"""pytest suite: one folder per top-level package (admin, api for miniprogram_api, handlers, jobs,
models, services: flat, one file per service tested), browser (the H5 pages and the back office
in Chromium), fuzz (schemathesis over /openapi.json), deploy (real processes, nginx, the TiDB
check), fakes (fake platforms on 127.0.0.1); conftest.py (both databases, the real server, the
network guard), helpers (deadlocks.py, demo_places.py, loop_lag.py, throwaway_mariadb.py) and the
tests of logs, the README and the server's command line."""
