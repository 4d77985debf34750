"""`python -m tui_dropout` runs the CLI."""
from .cli.main import run

run()
