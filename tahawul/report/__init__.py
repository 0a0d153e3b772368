"""`tahawul report`: the national overview as one self-contained HTML page.

For the embedded mode and auditors' files, where there is no Grafana. It runs the national
overview dashboard's own SQL (tahawul/dashboards/indicators.py), with the macros expanded as
Grafana would (tahawul/dashboards/macros.py), so the page shows the dashboard's numbers from
the same named views. Charts and the map are inline SVG with no script or font from a
network, so the file opens anywhere, offline, and can be archived as it is.
"""
