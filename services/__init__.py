"""Domain logic with no HTTP in it, one package per domain. Modules import each other by their
full path (`from services.people import identity`); each package's `__init__.py` holds only a
docstring saying what is in it (no imports, no re-exports).

    accounts        sign-in and tokens, phone accounts, passwords, captchas, sign-in limits,
                    back-office sign-in, WeChat and Alipay
    people          ID checks and masking, the real-name profile, family and consent,
                    declarations, health codes
    colours         the colour engine, rules, scheme, reasons, rule changes, approvals,
                    corrections, appeals
    risk_data       risk inputs and records, risk areas, divisions, the partner feed, nearby risk,
                    the health authority's roles
    oversight       the operation log, citizens' access log, export purposes and watermarks
    venues          places and place codes, place types, code images, door screens, share codes,
                    live occupancy, blank-code batches
    scanning        the scan flow, the entries' group commit, paper entries, entry lists
    fieldwork       place admins and inspectors, grids, medical staff, release notices
    enterprises     enterprise return-to-work
    back_office     compounds, residents, venue-type admin, statistics, SVG charts, their lists
    messaging       SMS (development and Alibaba Cloud), e-mail
    common          errors, times, paging, raw JSON, text checks, forms, regions, Excel, fonts
    operations      log redaction, metrics, pools off the event loop, demo data
    investigations  任务排查: list sources, the xlsx import, dispatch, workflows, statistics, the
                    risk lists and the task lists
"""
