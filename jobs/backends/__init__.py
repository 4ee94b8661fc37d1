"""Execution backends: one interface (``base.ExecutionBackend``) and its implementations (``local``)."""
