"""The HTTP API of `runner daemon --api` (SPEC 7): FastAPI over the operations layer."""
