"""Reports: HTML and PDF built from a run folder; charts; the generated answer."""
