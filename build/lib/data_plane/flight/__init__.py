"""The region's Arrow Flight server (bulk reads) and the commands it runs."""
