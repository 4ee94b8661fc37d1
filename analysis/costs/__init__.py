"""Cost analytics of GPU jobs run outside Runyard: pure computation, no Django.

``records`` reads and validates job metadata (JSON, JSON Lines, CSV), ``proration`` turns a job into
its cost per UTC day, ``rollups`` aggregates daily rows and answers cost by team, model or any group.
"""
