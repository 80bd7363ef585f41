"""Example workflows for litestar-workflows; run them with ``python -m examples.demo``."""
