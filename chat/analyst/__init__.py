"""The built-in analyst: answers chat questions with no language model.

A question is routed to tool calls by keywords (``router.route``), the tools run elsewhere, and their results
are put together into Markdown (``compose.compose``). Pure Python with no Django imports, so the routing and
wording can be tested on their own and reused by every provider's fallback.
"""
