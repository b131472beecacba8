"""The private parts of peewee that models/db.py still relies on, named one by one, so that a
peewee upgrade that changes any of them fails here, loudly, rather than in a scan.

- `Prepared.first`: a query's `_get_cursor_wrapper(cursor)`, whose column set-up (its attributes
  other than `Prepared._PER_CURSOR`) is kept from the first run, then `process_row`.
- `loaded`: a model instance's `__data__`, `_dirty` and `__rel__`, set without the constructor.
- The metrics' pool figures (services/operations/metrics.py Sampler): a MySQL pool's `_in_use` (connections
  lent out), and its `_connect` raising MaxConnectionsExceeded to a caller that then waits
  (`ReconnectingPooledMySQL.waiting_threads`).
- `RoutingProxy`: DatabaseProxy's `obj` slot (its descriptor, read and set by the proxy's property),
  which `__getattr__` and the context-manager methods read.
Everything else of peewee that models/ uses is public (`selected_columns`, `connect_params`, the
exception classes)."""

import threading
import time

import pytest

from models.db import Prepared, loaded, open_database
from models.people import Person
from tests.conftest import make_person


def _person_by_bidx(bidx):
    return Person.select().where(Person.id_number_bidx == bidx)


def test_a_cursor_wrapper_still_has_the_parts_prepared_first_keeps_and_resets(db):
    person = make_person(1)
    query = _person_by_bidx(person.id_number_bidx)
    assert hasattr(query, "_get_cursor_wrapper"), "peewee dropped BaseQuery._get_cursor_wrapper (models/db.py Prepared.first)"
    cursor = db.execute_sql(*query.sql())
    wrapper = query._get_cursor_wrapper(cursor)
    wrapper.initialize()
    per_cursor = set(vars(wrapper)) & Prepared._PER_CURSOR
    assert per_cursor == Prepared._PER_CURSOR, f"peewee's cursor wrapper changed: {sorted(vars(wrapper))}"
    row = cursor.fetchone()
    cursor.close()
    assert wrapper.process_row(row).id == person.id
    assert Prepared(_person_by_bidx, "\x00bidx").first(person.id_number_bidx).id == person.id


def test_a_model_instance_still_keeps_its_data_dirty_fields_and_relations_where_loaded_sets_them(db):
    person = make_person(1)
    fresh = Person.get_by_id(person.id)
    for name, kind in (("__data__", dict), ("_dirty", set), ("__rel__", dict)):
        assert isinstance(getattr(fresh, name, None), kind), f"peewee's Model changed its {name} (models/db.py loaded)"
    made = loaded(Person, dict(fresh.__data__))
    assert made.id == person.id and made.dirty_fields == [] and made == fresh
    made.name = "改名"
    assert made.dirty_fields == [Person.name]


def test_a_mysql_pool_still_lends_through_in_use_and_makes_a_caller_wait_in_connect(backend):
    if backend[0] != "mysql":
        pytest.skip("peewee's pool serves MySQL only")
    pool = open_database(backend[1] + "?max_connections=1")
    pool.connect()
    assert len(pool._in_use) == 1, "peewee's pool changed its _in_use (services/operations/metrics.py Sampler)"
    got = threading.Event()

    def second():
        pool.connect()
        got.set()
        pool.close()

    waiter = threading.Thread(target=second)
    waiter.start()
    deadline = time.monotonic() + 5
    while not pool.waiting_threads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(pool.waiting_threads) == 1 and not got.is_set(), "peewee's pool no longer waits through _connect"
    pool.close()  # the first connection back: the waiting thread takes it
    waiter.join(5)
    assert got.is_set() and not pool.waiting_threads and not pool._in_use
    pool.close_all()


def test_a_database_proxy_still_keeps_its_database_in_the_obj_slot_routingproxy_overrides(db):
    import peewee

    from models.db import RoutingProxy

    slot = peewee.DatabaseProxy.__dict__.get("obj")
    assert "obj" in peewee.DatabaseProxy.__slots__ and hasattr(slot, "__set__"), "peewee's DatabaseProxy changed"
    proxy = RoutingProxy()
    proxy.initialize(db)
    assert slot.__get__(proxy) is db and proxy.obj is db and proxy.primary is db
    assert proxy.is_closed() == db.is_closed()  # attributes pass through to the bound database
