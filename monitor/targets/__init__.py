"""Targets: an Auth side plus a Backend side, reached through adapters."""
