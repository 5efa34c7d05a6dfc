"""Subcommands of ``instrument``: one module each (NAME, HELP, add_arguments, run)."""
