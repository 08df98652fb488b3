"""HTTP routers: pages, /api/v1, /api/v1/dify (Dify's External Knowledge API), /v1
(OpenAI-compatible), system."""
