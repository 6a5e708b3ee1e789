"""The curated export-control event log: records, the catalog fold, and I/O."""
