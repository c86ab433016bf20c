"""``python -m bringup`` runs the command line."""

from bringup.cli import main

main()
