"""Live parse progress: every change of a tenant's profiles goes to its ``profiles`` group."""

from portal.lib.live import send_after_commit

TOPIC = "profiles"


def payload(profile) -> dict:
    return {
        "code": profile.code,
        "name": profile.name,
        "state": profile.state,
        "state_label": profile.get_state_display(),
        "progress": profile.progress,
        "format": profile.format,
        "error": profile.error,
        "error_line": profile.error_line,
    }


def announce(profile) -> None:
    send_after_commit(TOPIC, {"type": "profile.update", "profile": payload(profile)})
