"""The public SDK for integrating teams: ``from tahawul.sdk import Producer``.

A stable name over :mod:`tahawul.producers.sdk` (whose ``__all__`` it re-exports), so that
the package's inner layout can change without breaking the systems of the ministries that
send events. It needs only the core install (``pip install tahawul``): kafka-python, orjson
and the contract; none of the pipeline's server parts (an import contract in
pyproject.toml keeps it so).
"""

from tahawul.producers.sdk import *  # noqa: F403
from tahawul.producers.sdk import __all__  # noqa: F401
