"""`python -m agent` runs the meshprober CLI."""

from agent.cli import main

main()
