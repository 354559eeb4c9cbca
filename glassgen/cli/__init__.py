"""The glassgen command line (Typer). ``python -m glassgen.cli`` = ``glassgen``."""
