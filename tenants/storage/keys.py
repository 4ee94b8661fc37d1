"""Object keys from users: normalised, and confined to the tenant's bucket. No Django here.

Refused: empty keys, absolute paths, ``.``/``..`` segments, backslashes, control characters, other
buckets or URLs (``s3://…``, ``arn:…``, ``https://…``), percent-encoded forms of any of these, and keys
longer than S3's 1024 bytes. Accepted keys are NFC-normalised with repeated slashes collapsed.
"""

import re
import unicodedata
from urllib.parse import unquote

MAX_KEY_BYTES = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SCHEME = re.compile(r"^(s3[an]?|https?|file|ftp|gs|arn):", re.IGNORECASE)


class InvalidKey(ValueError):
    """The message says what is wrong, for a 400 answer."""


def clean_key(raw: str, *, folder: bool = False, allow_empty: bool = False) -> str:
    """Return the normalised key, or raise InvalidKey. ``folder`` keys end in "/" ("" is the root)."""
    if not isinstance(raw, str):
        raise InvalidKey("A key must be text.")
    key = unicodedata.normalize("NFC", raw.strip())
    _refuse_tricks(key)
    decoded = key
    for _ in range(3):  # also look through up to three layers of percent-encoding
        decoded = unquote(decoded)
        _refuse_tricks(decoded)
    key = re.sub(r"/{2,}", "/", key)
    if folder:
        key = key.strip("/") + "/" if key.strip("/") else ""
    if not key and not allow_empty:
        raise InvalidKey("A key is required.")
    if not folder and key.endswith("/"):
        raise InvalidKey("A file's key cannot end with “/”.")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise InvalidKey(f"Keys are at most {MAX_KEY_BYTES} bytes.")
    return key


def _refuse_tricks(key: str) -> None:
    if _CONTROL.search(key):
        raise InvalidKey("Keys cannot contain control characters.")
    if "\\" in key:
        raise InvalidKey("Use “/” between folders, not “\\”.")
    if key.startswith("/"):
        raise InvalidKey("Keys are relative to your bucket; remove the leading “/”.")
    if _SCHEME.match(key):
        raise InvalidKey("Keys are relative to your bucket; other buckets and URLs are not allowed.")
    if any(part in (".", "..") for part in key.split("/")):
        raise InvalidKey("Keys cannot contain “.” or “..” segments.")
