"""Signed, expiring portal links that stand in for presigned URLs where there is no S3 to sign them.

The local backend's ``presigned_url`` returns ``/files/link/<token>``; the view serving that path reads the
token back with ``read_link`` and needs no session: the signature is the permission, for one key and one
method, until it expires. Tokens are signed with SECRET_KEY and a salt of their own, so no other signed
value of the portal (sessions, password reset links) can be replayed as a link.
"""

import time

from django.core import signing

SALT = "runyard.storage.link"
LINK_PATH = "/files/link/"
METHODS = ("GET", "PUT")


def sign_link(bucket_name: str, key: str, method: str = "GET", expires: int = 3600) -> str:
    """The path (``/files/link/<token>``) that lets its holder ``method`` this one key for ``expires`` s."""
    method = method.upper()
    if method not in METHODS:
        raise ValueError(f"links allow {', '.join(METHODS)}, not {method}")
    payload = {"b": bucket_name, "k": key, "m": method, "e": int(time.time()) + int(expires)}
    return LINK_PATH + signing.dumps(payload, salt=SALT, compress=True)


def read_link(token: str) -> tuple[str, str, str]:
    """``(bucket_name, key, method)`` of a valid token.

    Raises ``signing.SignatureExpired`` once it has expired and ``signing.BadSignature`` (its parent
    class) when it was tampered with or is not a link at all.
    """
    payload = signing.loads(token, salt=SALT)
    try:
        bucket_name, key, method, expires_at = payload["b"], payload["k"], payload["m"], payload["e"]
    except (KeyError, TypeError) as error:
        raise signing.BadSignature("not a file link") from error
    if time.time() >= expires_at:
        raise signing.SignatureExpired("this link has expired")
    return bucket_name, key, method
