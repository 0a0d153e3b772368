"""The catalogue tables are loaded from the package CSVs, once, and reloaded on change."""

from __future__ import annotations

from tahawul.sinks.clickhouse.reference import sync_reference
from tahawul.sinks.clickhouse.store import Store


def counts(store: Store) -> tuple[int, ...]:
    sql = ("SELECT (SELECT count() FROM ref_governorates), (SELECT count() FROM ref_channels), "
           "(SELECT count() FROM ref_entities), (SELECT count() FROM ref_services)")
    return tuple(store.client.query(sql).result_rows[0])


def test_catalogue_loaded_once_and_reloaded_exactly_when_it_changes(store: Store) -> None:
    assert counts(store) == (11, 8, 52, 178)
    assert store.client.query("SELECT name_ar, governorate FROM ref_entities WHERE code = 'MUSCAT-MUN'"
                              ).result_rows == [("بلدية مسقط", "OM-MA")]
    national = store.client.query("SELECT governorate FROM ref_entities WHERE code = 'ROP'")
    assert national.result_rows == [(None,)]
    assert sync_reference(store.client) is False  # unchanged: nothing reloaded
    store.client.command("INSERT INTO ref_loads (checksum) VALUES ('an older catalogue')")
    assert sync_reference(store.client) is True
    assert counts(store) == (11, 8, 52, 178)  # replaced, not appended
    store.migrate()
    assert store.client.query("SELECT count() FROM ref_loads").result_rows == [(3,)]
