"""Running the pipeline's processes: the embedded broker, child processes, the metrics
endpoint and the one local pipeline that `tahawul up`, the tests and the benchmarks share.

Sits above the adapters (producers, stream_processors, sinks) and below the CLI."""
