"""Adapter for media files: the only place that opens images (Pillow) and videos (PyAV)."""
