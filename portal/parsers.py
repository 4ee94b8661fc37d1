"""The API's request parsers (kept out of portal.rest: DRF imports them while loading its own views)."""

import json

from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing text that is not valid Unicode: JSON may escape half a surrogate pair
    (``"\\ud800"``), which no view could store or answer, so no view ever sees it."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        try:
            json.dumps(data, ensure_ascii=False).encode()
        except UnicodeEncodeError as error:
            raise exceptions.ParseError(
                "The body holds text that is not valid Unicode (a lone surrogate)."
            ) from error
        return data
