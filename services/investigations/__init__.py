"""Investigation tasks (任务排查, H1-H6): list sources declared as data, the streaming Excel import,
dispatch to districts, status workflows with their effects, completion statistics, and the back
office's list queries.

    sources      each list declared once: template columns, dispatch rule, statuses, roles
    cells        one cell's checks by column kind (ID number, phone, date, ...)
    xlsx         upload checks before parsing (zip, bomb, size) and a streaming row reader
    dispatch     which district / compound a row goes to
    records      rows -> TaskRecord (batches, dedupe, person match); the checkpoint-scan hook
    importer     ImportJob: background run, progress, error report; its helper process reads sheets
    import_jobs  the import pages' reads and steps per admin: visible jobs, recent, accept, report
    workflow     transitions, history and effects (colour engine, isolation status)
    stats        per-district completion rates
    risk_lists   one import source per kind of risk record (services/risk_data/risk_records.py)
    task_lists   the queries of the 任务排查 lists: records, searches, figures, edits, history
"""
