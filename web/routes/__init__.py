"""HTTP routers: pages, /api/v1, /v1 (OpenAI-compatible), system."""
