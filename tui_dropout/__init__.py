"""dropout-tui: a terminal experiment console for dropout studies in PyTorch."""

__version__ = "0.1.0"
