"""End-to-end tests: the example apps served by uvicorn in a subprocess, driven over real HTTP."""
