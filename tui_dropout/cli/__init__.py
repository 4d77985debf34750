"""The typer command line: `dropout-tui` and its commands."""
