"""Tenant-schema models arrive with their issues."""
