"""Subcommands of `tahawul`, one module per area.

Every module here defines ``register(subparsers)``, which adds its subcommands with
``set_defaults(handler=...)``; a handler takes ``(args, settings)`` and returns the exit
code. :mod:`tahawul.cli` discovers the modules, so adding an area adds a file, nothing else.
"""
