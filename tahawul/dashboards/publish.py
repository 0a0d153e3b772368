"""`tahawul grafana publish`: push datasources, folders and dashboards to a running Grafana
through its HTTP API (grafana-client), for Grafanas that are not provisioned from files.

Idempotent by UID: a datasource or folder that exists is updated or kept, never duplicated,
and dashboards are saved with ``overwrite``, so running it twice leaves one copy of
everything at the version in this repository.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError

from tahawul.dashboards.model import Dashboard
from tahawul.dashboards.texts import LANGS, t


@dataclass
class Published:
    datasources_created: list[str] = field(default_factory=list)
    datasources_updated: list[str] = field(default_factory=list)
    folders_created: list[str] = field(default_factory=list)
    dashboards: list[str] = field(default_factory=list)


def _exists(call: Any, *args: Any) -> dict[str, Any] | None:
    try:
        found = call(*args)
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            return None
        raise
    return found if isinstance(found, dict) else None


def publish(api: GrafanaApi, datasources: list[dict[str, Any]], dashboards: list[Dashboard]) -> Published:
    done = Published()
    for ds in datasources:
        existing = _exists(api.datasource.get_datasource_by_uid, ds["uid"])
        if existing is None:
            api.datasource.create_datasource(ds)
            done.datasources_created.append(ds["uid"])
        else:
            api.datasource.update_datasource_by_uid(ds["uid"], {**ds, "id": existing.get("id")})
            done.datasources_updated.append(ds["uid"])
    for lang in LANGS:
        uid = f"tahawul-{lang}"
        if _exists(api.folder.get_folder, uid) is None:
            api.folder.create_folder(t("folder", lang), uid=uid)
            done.folders_created.append(uid)
    for dashboard in dashboards:
        api.dashboard.update_dashboard({
            "dashboard": {**dashboard.to_json(), "id": None},
            "folderUid": f"tahawul-{dashboard.lang}",
            "overwrite": True,
            "message": "tahawul grafana publish",
        })
        done.dashboards.append(dashboard.uid)
    return done
