"""OpenAPI additions drf-spectacular cannot infer: the one error shape, on every operation that may answer it.

Every API error is ``{"error": {"code", "message", "fields"?, "hint"?}}`` (``portal.rest.exception_handler``),
so the schema documents it once as ``Error`` and refers to it from each operation's error responses: a bad
query or body (400), a missing or dead token (401), a role too low (403), an unknown code (404), a body of
a media type the operation does not read (415), and the token and upload limits (429). A client generator
then types the errors, and the contract test (tests/fuzz/test_api_contract.py) checks error bodies against
the schema like any other answer.
"""

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
                "hint": {"type": "string"},
            },
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}
ERRORS = {
    "400": "The query or the body is not valid (`fields` says which and why).",
    "401": "No token, or a token that is wrong, expired or revoked.",
    "403": "Your role in this tenant may not do this.",
    "404": "Not found, or not yours to see.",
    "415": "The body's media type (Content-Type) is not one this operation reads.",
    "429": "Too many requests for this token or user; `Retry-After` says when to try again.",
}
METHODS = ("get", "post", "put", "patch", "delete")


def document_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook: the ``Error`` component and each operation's error answers."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method in METHODS:
                _add_errors(operation, error, path_params="{" in path)
    return result


def _add_errors(operation, content, *, path_params: bool) -> None:
    body = "requestBody" in operation
    skip = {"400": not (path_params or body or operation.get("parameters")), "415": not body}
    responses = operation.setdefault("responses", {})
    for status, description in ERRORS.items():
        if skip.get(status):
            continue
        documented = responses.setdefault(status, {"description": description})
        documented.setdefault("content", content)
