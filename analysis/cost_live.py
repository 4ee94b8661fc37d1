"""Live cost data: every change of a tenant's ingests, and every change of its rollups, goes to its
``costs`` group (``/ws/costs/``, ``analysis.consumers.CostsConsumer``).

Messages: ``{"type": "ingest.update", "ingest": payload(ingest)}`` on each state change and each batch
applied; ``{"type": "costs.changed", "start": "YYYY-MM-DD" | None, "end": … | None}`` after rollups or
rates changed (days of the change when known), so a dashboard can refetch.
"""

from portal.lib.live import send_after_commit

TOPIC = "costs"


def payload(ingest) -> dict:
    return {
        "code": ingest.code,
        "kind": ingest.kind,
        "filename": ingest.filename,
        "format": ingest.format,
        "state": ingest.state,
        "state_label": ingest.get_state_display(),
        "progress": ingest.progress,
        "rows_done": ingest.rows_done,
        "counts": ingest.counts,
        "failed": ingest.failed,
        "error": ingest.error,
    }


def announce(ingest) -> None:
    send_after_commit(TOPIC, {"type": "ingest.update", "ingest": payload(ingest)})


def costs_changed(start=None, end=None) -> None:
    send_after_commit(
        TOPIC,
        {
            "type": "costs.changed",
            "start": start.isoformat() if start else None,
            "end": end.isoformat() if end else None,
        },
    )
