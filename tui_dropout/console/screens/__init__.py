"""The console's screens, one per file; the small modal questions are in ../dialogs."""
