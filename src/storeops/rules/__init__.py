"""Rules: rule model, safe expression evaluation, versions (see ARCHITECTURE.md)."""
