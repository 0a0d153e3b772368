"""The `tahawul` command line: the top floor. Nothing imports it but ``python -m tahawul``."""
