"""The `storeops` command line (Typer)."""
