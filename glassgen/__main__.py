"""``python -m glassgen`` (and ``torchrun ... -m glassgen``) runs the command line."""
from glassgen.cli.app import main

main()
