"""Subcommands of ``runform``: one module each (``NAME``, ``HELP``, ``add_arguments``, ``run``)."""
