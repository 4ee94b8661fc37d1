"""The worksets API (``/api/v1/worksets…``), included from ``portal.api``."""
