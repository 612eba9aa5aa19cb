"""Product content generators behind one interface (ContentGenerator).

    OfflineGenerator            default: templates over the record's own values, no network
    OpenAICompatibleGenerator   any /v1/chat/completions server (OpenAI, vLLM, Ollama, llama.cpp),
                                schema-validated, budgeted, grounding-checked, offline fallback
    grounding_check(text, facts) the facts a text states that the record does not
"""

from storeops.ai.content.grounding import grounding_check
from storeops.ai.content.offline import OfflineGenerator
from storeops.ai.content.openai_compatible import Budget, OpenAICompatibleGenerator, ProductCopy
from storeops.ai.content.types import ContentGenerator, GeneratedContent

__all__ = ["Budget", "ContentGenerator", "GeneratedContent", "OfflineGenerator", "OpenAICompatibleGenerator",
           "ProductCopy", "grounding_check"]
