"""Modal dialogs: a question, a line of text, a run's labels, the charts to show; each dismisses with the answer."""
