"""The Textual console: a thin layer over the run store, the watcher and the launcher. Never imports torch."""
