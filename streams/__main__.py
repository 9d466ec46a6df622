"""`python -m streams` runs the cdrwatch command line."""

from streams.cli import main

main()
