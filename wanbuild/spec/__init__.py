"""Values only: the effect as the user declared it, after composition. No I/O here."""
