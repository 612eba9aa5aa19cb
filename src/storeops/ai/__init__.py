"""AI: classification, sentiment, forecasting, content generation, LLM providers (see ARCHITECTURE.md)."""
