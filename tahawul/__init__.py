"""tahawul: the counting backbone of the national digital-transformation programme.

One import root: ``tahawul.schemas`` (the contract), ``tahawul.producers``,
``tahawul.stream_processors`` and ``tahawul.sinks`` (adapters), ``tahawul.runtime`` and
``tahawul.cli``; docs/architecture.md draws the layers. Integrating teams use
``tahawul.sdk``.
"""

# The one place the version is written: pyproject.toml reads it from here (setuptools'
# dynamic version) and `tahawul --version` prints it.
__version__ = "0.2.0"
