"""Fault injection for crash tests; test code only, production modules carry no hooks."""
