"""Screens and dialogs of the console, one per file."""
