"""The ``mib`` command line: one module per command group.

Each group module imports only typer at module level; pandas, numba and
vectorbt are imported inside the commands so that ``mib --help`` is instant.
"""
