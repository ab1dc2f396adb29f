"""Command-line subcommands besides serving."""
