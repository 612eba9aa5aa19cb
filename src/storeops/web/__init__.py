"""FastAPI app: webhook intake, REST API, dashboard (server-rendered)."""
