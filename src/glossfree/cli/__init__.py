"""Command-line interface. Each command parses its arguments, then calls one library function."""
