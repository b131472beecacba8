"""Past one MySQL primary the platform moves to TiDB with no code change (docs/deploy.md, "Past one
primary"), so the code may use only MySQL features that TiDB has. This test fails, naming the
construct and where it is, when the code uses one TiDB lacks. It reads, without a database:

- the schema as MySQL DDL: every model's CREATE TABLE and CREATE INDEX, as peewee writes them;
- every SQL text in the code: the string constants of the packages (not docstrings), an SQL
  keyword in upper case anywhere, any case in a string that starts with an SQL verb;
- every SQL function called through peewee's `fn`, against the list of those checked in TiDB's
  documentation (a new one fails until it is checked and added, with the page that says so);
- locking reads (`for_update(...)` with options).

The last test feeds the checker each construct, so a checker that stopped seeing them fails too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import peewee
import pytest

from models.schema import MODELS

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("models", "services", "jobs", "admin", "handlers", "miniprogram_api")

# (pattern, what it is): MySQL constructs TiDB does not have (docs.pingcap.com/tidb/stable/
# mysql-compatibility, "Unsupported features"; pessimistic-transaction and locking-functions pages).
LACKING = [
    (r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:DEFINER\s*=\s*\S+\s+)?(?:TRIGGER|PROCEDURE|FUNCTION|EVENT)\b",
     "triggers, stored procedures and functions, events"),
    (r"\bCALL\s+\w+\s*\(", "a stored procedure call"),
    (r"\bFULLTEXT\b|\bMATCH\s*\(.*?\)\s*AGAINST\b", "FULLTEXT indexes and MATCH ... AGAINST"),
    (r"\bSPATIAL\b|\bGEOMETRY\b|\bST_[A-Za-z]+\s*\(", "spatial (GIS) types, indexes and functions"),
    (r"\bLOCK\s+IN\s+SHARE\s+MODE\b|\bFOR\s+SHARE\b", "shared locking reads (a no-op that TiDB refuses by default)"),
    (r"\bSKIP\s+LOCKED\b", "SKIP LOCKED"),
    (r"\bSERIALIZABLE\b", "the SERIALIZABLE isolation level"),
    (r"\bXA\s+(?:START|BEGIN|END|PREPARE|COMMIT|ROLLBACK|RECOVER)\b", "XA transactions"),
    (r"\b(?:CHECK|CHECKSUM|REPAIR|OPTIMIZE)\s+TABLE\b", "CHECK / CHECKSUM / REPAIR / OPTIMIZE TABLE"),
    (r"\bHANDLER\s+`?\w+`?\s+(?:OPEN|READ|CLOSE)\b", "HANDLER statements"),
    (r"\bCREATE\s+TABLESPACE\b", "tablespaces"),
    (r"\bCREATE\s+(?:TEMPORARY\s+)?TABLE\b[^;]*?\bAS\s+SELECT\b", "CREATE TABLE ... AS SELECT"),
    (r"\bLOAD_FILE\s*\(|\bExtractValue\s*\(|\bUpdateXML\s*\(", "file and XML functions"),
    (r"\bSQL_CALC_FOUND_ROWS\b", "SQL_CALC_FOUND_ROWS (a no-op that TiDB refuses by default)"),
    (r"\bLOCK\s+TABLES?\b", "LOCK TABLES (off in TiDB unless enable-table-lock)"),
    (r"\bIS_(?:FREE|USED)_LOCK\s*\(", "IS_FREE_LOCK / IS_USED_LOCK (TiDB before 7.x lacks them)"),
    (r"\b(?:CHARACTER\s+SET|CHARSET)\s*=?\s*(?!(?:utf8mb4|utf8|ascii|latin1|binary|gbk)\b)[A-Za-z0-9_]+",
     "a character set other than utf8mb4, utf8, ascii, latin1, binary, gbk"),
]
SQL_VERB = re.compile(r"^\s*(?:SELECT|INSERT|UPDATE|DELETE|REPLACE|CREATE|ALTER|DROP|SET|CALL|LOCK|XA|HANDLER|"
                      r"CHECK|CHECKSUM|REPAIR|OPTIMIZE|WITH)\b", re.IGNORECASE)

# SQL functions the code calls through peewee's fn, each checked in TiDB's documentation
# (docs.pingcap.com/tidb/stable/functions-and-operators-overview and its pages).
TIDB_FUNCTIONS = {"SUM", "COUNT", "MIN", "MAX", "AVG", "COALESCE", "IFNULL", "SUBSTR", "SUBSTRING", "LENGTH",
                  "CHAR_LENGTH", "CONCAT", "CONCAT_WS", "CRC32", "DATE_FORMAT", "DATE", "JSON_ARRAY", "JSON_OBJECT",
                  "JSON_EXTRACT", "JSON_UNQUOTE", "EXISTS", "LOWER", "UPPER", "ABS", "ROUND", "FLOOR", "GREATEST",
                  "LEAST", "GROUP_CONCAT"}
# Called only on SQLite's side of an `is_mysql()` branch (reviewed where they are).
SQLITE_ONLY_FUNCTIONS = {"strftime"}
# SQL that only SQLite ever runs: (file, what LACKING names) -> why it never reaches MySQL.
SQLITE_ONLY_SQL = {
    ("models/schema.py", "triggers, stored procedures and functions, events"):
        "the colour rules' change stamp on SQLite; install_rule_stamp returns first on MySQL, which "
        "keeps a checksum of the rows instead",
}


def lacking_in(sql: str, any_case: bool) -> list[str]:
    """What of LACKING the SQL text uses."""
    flags = re.IGNORECASE | re.DOTALL if any_case else re.DOTALL
    return [what for pattern, what in LACKING if re.search(pattern, sql, flags)]


def _parse(text: str) -> ast.AST:
    """ast.parse, taken again when CPython 3.11's shared AST state trips over another thread's parse
    (python/cpython#106905: a spurious SystemError "AST constructor recursion depth mismatch")."""
    for _ in range(3):
        try:
            return ast.parse(text)
        except SystemError as error:
            if "recursion depth mismatch" not in str(error):
                raise
    return ast.parse(text)


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            for statement in node.body:
                if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
                    ids.add(id(statement.value))
    return ids


def _strings(tree: ast.AST):
    """(line, text) of each string in the code but docstrings; an f-string as one text."""
    skip = _docstrings(tree)
    inside_fstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                inside_fstrings.add(id(value))
                parts.append(value.value if isinstance(value, ast.Constant) else "{}")
            yield node.lineno, "".join(str(p) for p in parts)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip \
                and id(node) not in inside_fstrings:
            yield node.lineno, node.value


def check_source(path: str, text: str) -> list[str]:
    """Every construct TiDB lacks in one module's code, as 'path:line: what (text)'."""
    tree = _parse(text)
    found = []
    for line, string in _strings(tree):
        for what in lacking_in(string, any_case=bool(SQL_VERB.match(string))):
            if (path, what) not in SQLITE_ONLY_SQL:
                found.append(f"{path}:{line}: {what} ({string.strip()[:80]!r})")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and (
                (isinstance(node.value, ast.Name) and node.value.id == "fn")
                or (isinstance(node.value, ast.Attribute) and node.value.attr == "fn")):
            name = node.attr
            if name.upper() not in TIDB_FUNCTIONS and name not in SQLITE_ONLY_FUNCTIONS:
                found.append(f"{path}:{node.lineno}: fn.{name}: not checked against TiDB's functions "
                             f"(check it, then add it to TIDB_FUNCTIONS)")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "for_update" \
                and (node.args or node.keywords):
            found.append(f"{path}:{node.lineno}: for_update with options (FOR SHARE / SKIP LOCKED are not in TiDB)")
    return found


def schema_ddl() -> list[str]:
    """Every model's CREATE TABLE and CREATE INDEX as peewee writes them for MySQL (no connection)."""
    mysql = peewee.MySQLDatabase("tidb_check")
    statements = []
    with mysql.bind_ctx(MODELS):
        for model in MODELS:
            statements.append(mysql.get_sql_context().sql(model._schema._create_table(safe=True)).query()[0])
            statements += [mysql.get_sql_context().sql(index).query()[0]
                           for index in model._schema._create_indexes(safe=True)]
    return statements


COLUMN_TYPES = {"INTEGER", "BIGINT", "SMALLINT", "VARCHAR", "TEXT", "LONGTEXT", "MEDIUMTEXT", "DATETIME", "DATE",
                "TIME", "BOOL", "TINYINT", "DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC", "BLOB", "MEDIUMBLOB", "LONGBLOB",
                "JSON", "CHAR"}


def test_the_schema_uses_only_what_tidb_has():
    problems = []
    for sql in schema_ddl():
        problems += [f"{what}: {sql[:120]}" for what in lacking_in(sql, any_case=True)]
        if sql.startswith("CREATE TABLE"):
            columns = sql[sql.index("(") + 1:]
            for name, kind in re.findall(r"`(\w+)` ([A-Z]+)", columns):
                if kind not in COLUMN_TYPES:
                    problems.append(f"column {name}: type {kind} not checked against TiDB: {sql[:80]}")
    assert problems == []


def test_the_code_uses_only_what_tidb_has():
    problems = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            problems += check_source(relative, path.read_text(encoding="utf-8"))
    assert problems == [], "MySQL constructs that TiDB lacks:\n" + "\n".join(problems)


@pytest.mark.parametrize("code, expected", [
    ('db.execute_sql("SELECT id FROM person WHERE id = %s LOCK IN SHARE MODE")', "shared locking reads"),
    ('q = "select * from t for update skip locked"', "SKIP LOCKED"),
    ('db.execute_sql(f"CREATE TRIGGER t AFTER INSERT ON {table} FOR EACH ROW SET @x = 1")', "triggers"),
    ('db.execute_sql("ALTER TABLE place ADD FULLTEXT INDEX ft (name)")', "FULLTEXT"),
    ('Place.select().where(fn.ST_Distance_Sphere(Place.location, point) < 500)', "fn.ST_Distance_Sphere"),
    ('db.execute_sql("SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE")', "SERIALIZABLE"),
    ('db.execute_sql("CREATE TABLE copy AS SELECT * FROM place")', "AS SELECT"),
    ('Person.select().for_update("FOR SHARE")', "for_update with options"),
    ('db.execute_sql("OPTIMIZE TABLE entry_record")', "OPTIMIZE TABLE"),
    ('db.execute_sql("CREATE DATABASE x CHARACTER SET utf16")', "character set"),
    ('peewee.fn.SOUNDEX(Person.name)', "fn.SOUNDEX"),
])
def test_the_check_names_each_construct_tidb_lacks(code, expected):
    found = check_source("example.py", code)
    assert any(expected in line for line in found), found


def test_sql_in_messages_and_docstrings_is_not_taken_for_code():
    code = '''"""Module: we never LOCK IN SHARE MODE here."""\ndef f():\n    """Or use SKIP LOCKED."""\n    return "请检查 check table 名称"\n'''
    assert check_source("example.py", code) == []
