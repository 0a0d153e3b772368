"""tahawul: the command line, settings and the embedded (one-machine) runner."""
