"""A real MariaDB deadlock, for the tests of what a deadlock's victim does (models/transactions.py).

`deadlocked(backend, subject)` starts another transaction on its own connection that holds the
gap a new colour for `subject` goes into, and then asks for the temperature row that a risk input
for `subject` has just written, once that input waits for the gap. MariaDB rolls the smaller
transaction back: the risk input's (the other one has written rows to weigh more).
"""

import threading
import time
from urllib.parse import urlparse

import pymysql

from models.colour import ColourHistory, HealthStatus
from models.risk_inputs import TemperatureRecord

HISTORY, STATUS, TEMPERATURES = (m._meta.table_name for m in (ColourHistory, HealthStatus, TemperatureRecord))


def _connect(url: str) -> pymysql.connections.Connection:
    parsed = urlparse(url)
    return pymysql.connect(host=parsed.hostname, port=parsed.port or 3306, user=parsed.username or "root",
                           password=parsed.password or "", database=parsed.path.lstrip("/"), charset="utf8mb4")


class OtherParty(threading.Thread):
    """A transaction on its own connection that makes the next risk input for `subject` a
    deadlock's victim: it is made the larger (rows written), takes the gap of the subject's
    colour, waits until the risk input waits for that gap (inserting the new colour), then asks
    for the temperature row the input wrote before."""

    def __init__(self, url: str, subject: str) -> None:
        super().__init__(daemon=True)
        self.url, self.subject = url, subject
        self.holding = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        connection, watcher = _connect(self.url), _connect(self.url)
        watcher.autocommit(True)
        try:
            with connection.cursor() as cur:
                cur.executemany(f"INSERT INTO {HISTORY} (subject, from_colour, to_colour, reasons, why, changed_at)"
                                " VALUES (%s, 'green', 'yellow', '[]', 'weight', NOW())",
                                [(f"weight-{i}",) for i in range(50)])
                cur.execute(f"SELECT id FROM {STATUS} WHERE subject = %s FOR UPDATE", (self.subject,))
                self.holding.set()
                self._wait_for_the_colour_insert(watcher)
                cur.execute(f"SELECT id FROM {TEMPERATURES} WHERE subject = %s FOR UPDATE", (self.subject,))
            connection.rollback()
        except BaseException as exc:  # told to the test, which would otherwise wait on a silent thread
            self.error = exc
            self.holding.set()
        finally:
            connection.close()
            watcher.close()

    @staticmethod
    def _wait_for_the_colour_insert(watcher) -> None:
        # The process list is live (innodb_trx is a copy the server refreshes now and then).
        deadline = time.monotonic() + 10
        with watcher.cursor() as cur:
            while time.monotonic() < deadline:
                cur.execute("SELECT COUNT(*) FROM information_schema.processlist"
                            " WHERE db = DATABASE() AND command = 'Query' AND info LIKE %s",
                            (f"INSERT INTO `{STATUS}`%",))
                if cur.fetchone()[0]:
                    return
                time.sleep(0.01)
        raise TimeoutError("the risk input never waited for the other transaction")


def deadlocked(backend, subject: str) -> OtherParty:
    """The other party, started and holding the gap; `join` it once the risk input is done."""
    other = OtherParty(backend[1], subject)
    other.start()
    assert other.holding.wait(10)
    assert other.error is None, other.error
    return other
