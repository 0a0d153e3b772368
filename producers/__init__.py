"""Producers: the ways events enter the pipeline (simulator, files, Kafka sender)."""
