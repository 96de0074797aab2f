"""Integration: the method registry and :func:`simulate`."""
