"""Optional LLM polish of template replies (OpenAI-compatible chat completions).

The model sees only the draft composed from the customer's record, never the customer's
message: an instruction hidden in a message cannot reach it. Its output is a suggestion;
storeops.flows.support sends it only if domain.support.fact_check finds no fact in it that
the draft's record does not hold, and otherwise sends the template text.
"""

from storeops.ai.replies.polish import PolishError, ReplyPolisher

__all__ = ["PolishError", "ReplyPolisher"]
