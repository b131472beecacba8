"""Shared handler base (JSON envelope, errors, auth), health, and the OpenAPI document."""
