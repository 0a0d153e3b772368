"""Grafana dashboards and datasources as code.

Dashboards are built here from Python (:mod:`.indicators`, :mod:`.operations`) and written
as JSON under ``grafana/`` (``tahawul grafana build``); a unit test fails when the committed
files differ from what this code builds. Every ClickHouse panel queries a named view of the
serving model (docs/serving-model.md), never ad-hoc SQL over raw tables, so an auditor can
find the definition of every number on a screen; the same test runs every panel's SQL, with
Grafana's macros expanded by :mod:`.macros`, against a store filled by the simulator.
"""
