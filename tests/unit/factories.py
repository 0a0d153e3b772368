"""Builders of valid contract-v1 payloads for unit tests."""

from __future__ import annotations

import uuid
from typing import Any

import orjson


def event(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "schema_version": 1,
        "occurred_at": "2025-03-04T09:15:22.123+04:00",
        "entity": "ROP",
        "service": "ROP-VEH-FIRST-REG",
        "governorate": "OM-BS",
        "channel": "portal",
        "status": "completed",
        "quantity": 1,
        "automated": False,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def payload(**overrides: Any) -> bytes:
    return orjson.dumps(event(**overrides))
