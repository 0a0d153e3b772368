"""The HTTP ingest gateway (`tahawul gateway`) and its per-entity credentials."""
