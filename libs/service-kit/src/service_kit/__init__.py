"""The plumbing every service of Sentiment Canary shares, and nothing of their domain.

settings      the base settings (the arm, host, port, log level) and settings-or-exit
app           service_app(): the FastAPI app with the middlewares in one order, the 422, the operations routes
serve         serve(): uvicorn with the project's options
metrics       the RED middleware and the metrics helpers every service has
operations    /healthz, /readyz and /metrics
served_by     the X-Served-By header; body_limit: the 413; invalid_input: the 422; json_body: RFC 8259 bodies
visitor_id    the format of the visitor id, the experiment's unit, which the frontend makes and the app-service reads
"""
