"""Thin Faust agents: they move data between topics, tables and the pure detectors."""
