"""Benchmarks (scripts that print figures; never asserted in the test suite)."""
