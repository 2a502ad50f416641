"""`python -m bot` is the `rrbot` command."""

from bot.cli import main

main()
