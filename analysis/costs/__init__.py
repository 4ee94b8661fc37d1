"""Cost analytics of GPU jobs run outside Runyard: pure computation, no Django.

``records`` reads and validates job metadata (JSON, JSON Lines, CSV), ``proration`` turns a job into
its cost per UTC day, ``rollups`` aggregates daily rows and answers cost by team, model or any group.
``budget`` measures each team's burn of its monthly budget, ``forecast`` projects the daily totals,
``recommendations`` (with ``capacity``) turns jobs and rates into savings advice, ``export`` writes
any table as CSV or xlsx.
"""
