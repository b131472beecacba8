"""The private parts of peewee that models/db.py still relies on, named one by one, so that a
peewee upgrade that changes any of them fails here, loudly, rather than in a scan.

- `Prepared.first`: a query's `_get_cursor_wrapper(cursor)`, whose column set-up (its attributes
  other than `Prepared._PER_CURSOR`) is kept from the first run, then `process_row`.
- `loaded`: a model instance's `__data__`, `_dirty` and `__rel__`, set without the constructor.
- `RoutingProxy`: DatabaseProxy's `obj` slot (its descriptor, read and set by the proxy's property),
  which `__getattr__` and the context-manager methods read.
Everything else of peewee that models/ uses is public (`selected_columns`, `connect_params`, the
exception classes)."""

from models.db import Prepared, loaded
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


def test_a_database_proxy_still_keeps_its_database_in_the_obj_slot_routingproxy_overrides(db):
    import peewee

    from models.db import RoutingProxy

    slot = peewee.DatabaseProxy.__dict__.get("obj")
    assert "obj" in peewee.DatabaseProxy.__slots__ and hasattr(slot, "__set__"), "peewee's DatabaseProxy changed"
    proxy = RoutingProxy()
    proxy.initialize(db)
    assert slot.__get__(proxy) is db and proxy.obj is db and proxy.primary is db
    assert proxy.is_closed() == db.is_closed()  # attributes pass through to the bound database
