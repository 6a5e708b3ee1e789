"""Market data: sources (Yahoo, CSV, synthetic), the local cache, calendars, data checks."""
