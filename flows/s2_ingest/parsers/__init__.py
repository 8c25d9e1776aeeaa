"""One parser per upstream format (and the map geometry): bytes in, typed rows and rejects out."""
