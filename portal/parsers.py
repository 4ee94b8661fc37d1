"""The API's request parsers (kept out of portal.rest: DRF imports them while loading its own views)."""

import json

from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing text that is not valid Unicode: JSON may escape half a surrogate pair
    (``"\\ud800"``), which no view could store or answer, so no view ever sees it. Arrays or objects nested
    deeper than Python's recursion limit are a 400 too, not the RecursionError DRF lets through."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
            json.dumps(data, ensure_ascii=False).encode()
        except UnicodeEncodeError as error:
            raise exceptions.ParseError(
                "The body holds text that is not valid Unicode (a lone surrogate)."
            ) from error
        except RecursionError as error:
            raise exceptions.ParseError("JSON parse error - the body is nested too deeply.") from error
        return data
