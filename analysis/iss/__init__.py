"""The Intel Simulation Service (ISS) connector: a plain HTTP client, no Django, see client.py."""
