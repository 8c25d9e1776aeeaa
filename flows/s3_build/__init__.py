"""Stage 3, build: the SQL models of sql/, discovered, ordered and run in a work database."""
