"""Tests of the benchmark tooling: the W3 load generator against real uvicorn servers."""
