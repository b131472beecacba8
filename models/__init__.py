"""peewee models, one module per area (accounts, people, admin, places, occupancy, declarations,
colour, rule_versions, risk_inputs, corrections, approvals, privacy, fieldwork, medical_staff,
enterprise, investigations, messaging, partners, regions, statistics), and the data layer under
them: the DatabaseProxy and connections (db.py), schema version and migrations (schema.py),
encryption at rest and blind indexes (cipher.py, fields.py, column_encryption.py), deadlock
retries (transactions.py), MySQL outages, TLS and event-loop statements (db_outage.py,
mysql_tls.py, mysql_loop.py), the read replica (read_replica.py), query logs without parameters
(query_logs.py), SQL literals (sql_literals.py) and SQLite checkpoints (sqlite_checkpoints.py).
Models never import services."""
