"""`python -m avu` runs the `avu` command."""
from avu.cli import main

main()
