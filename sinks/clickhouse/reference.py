"""The reference catalogue as ClickHouse tables (ref_*), loaded from the package CSVs.

Views that count against the catalogue (services digitised, silent services) need it in
the store, but the CSVs under ``schemas/reference_data`` stay its only source: this loader
runs after every migration (so at start-up and on ``tahawul db migrate``) and reloads the
tables only when the CSVs' checksum differs from the last one recorded in ``ref_loads``.
The checksum is recorded last, so a load interrupted half-way is simply redone.
"""

from __future__ import annotations

import hashlib
from importlib import resources

from clickhouse_connect.driver.client import Client

from tahawul.schemas.published import load_published
from tahawul.schemas.reference import Catalogue, load_catalogue

FILES = ("governorates.csv", "channels.csv", "entities.csv", "services.csv", "published_figures.csv")


def checksum() -> str:
    digest = hashlib.sha256()
    folder = resources.files("tahawul.schemas").joinpath("reference_data")
    for name in FILES:
        digest.update(name.encode())
        digest.update(folder.joinpath(name).read_bytes())
    return digest.hexdigest()


def _rows(cat: Catalogue) -> dict[str, tuple[tuple[str, ...], list[tuple[object, ...]]]]:
    return {
        "ref_governorates": (
            ("code", "name_en", "name_ar", "centre_en", "centre_lat", "centre_lon"),
            [(g.code, g.name_en, g.name_ar, g.centre_en, g.centre_lat, g.centre_lon)
             for g in cat.governorates.values()],
        ),
        "ref_channels": (
            ("code", "mode", "name_en", "name_ar"),
            [(c.code, c.mode, c.name_en, c.name_ar) for c in cat.channels.values()],
        ),
        "ref_entities": (
            ("code", "name_en", "name_ar", "governorate"),
            [(e.code, e.name_en, e.name_ar, e.governorate) for e in cat.entities.values()],
        ),
        "ref_services": (
            ("code", "entity", "name_en", "name_ar"),
            [(s.code, s.entity, s.name_en, s.name_ar) for s in cat.services.values()],
        ),
        "ref_published": (
            ("figure", "description", "scope", "period_from", "period_to", "value", "unit", "rounding",
             "check_name"),
            [(f.figure, f.description, f.scope, f.period_from, f.period_to, f.value, f.unit, f.rounding,
              f.check) for f in load_published()],
        ),
    }


def sync_reference(client: Client) -> bool:
    """Make the ref_* tables equal the shipped catalogue; True when they were (re)loaded."""
    current = checksum()
    loaded = client.query("SELECT argMax(checksum, loaded_at) FROM ref_loads").result_rows
    if loaded and loaded[0][0] == current:
        return False
    for table, (columns, rows) in _rows(load_catalogue()).items():
        client.command(f"TRUNCATE TABLE {table}")
        client.insert(table, rows, column_names=list(columns))
    client.insert("ref_loads", [[current]], column_names=["checksum"])
    return True
