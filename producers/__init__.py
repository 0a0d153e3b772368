"""Producers: the ways events enter the pipeline (the SDK, the HTTP gateway, files, the simulator)."""
