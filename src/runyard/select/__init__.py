"""Run selection, filters and time ranges: one grammar for the API, the CLI and the web view."""
