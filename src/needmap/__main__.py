"""``python -m needmap``: the command line."""

from needmap.cli import main

main()
