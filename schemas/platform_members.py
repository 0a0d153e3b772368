"""Members of the national integration platform that are not entities of the programme.

The platform published 81 consuming entities in 2024 ([003]); the programme's catalogue
(``entities.csv``) has 52 entity codes (the 48 programme entities, administrations split
into their offices and municipalities). The other consumers are bodies the platform serves
outside the programme: banks, telecoms, universities, the statistics centre. Which ones is
our estimate (the sources do not list the platform's members); they live in
``reference_data/platform_members.csv`` so that the contract's validation, the simulator
and the dashboards read the same list.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class PlatformMember:
    code: str
    name_en: str
    name_ar: str
    kind: str


@lru_cache(maxsize=1)
def load_platform_members() -> Mapping[str, PlatformMember]:
    """The non-programme members by code, in file order."""
    text = (
        resources.files("tahawul.schemas")
        .joinpath("reference_data", "platform_members.csv")
        .read_text("utf-8")
    )
    members: dict[str, PlatformMember] = {}
    for row in csv.DictReader(io.StringIO(text)):
        r = {k: v.strip() for k, v in row.items()}
        if r["code"] in members:
            raise ValueError(f"platform member {r['code']} listed twice")
        members[r["code"]] = PlatformMember(r["code"], r["name_en"], r["name_ar"], r["kind"])
    return MappingProxyType(members)
