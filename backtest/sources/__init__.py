"""Primary sources for the event log: EDGAR filings and Federal Register documents.

``mib events sources edgar`` reads a company's EDGAR submissions document
(``data.sec.gov/submissions/CIK##########.json``) or an EDGAR Atom feed and
lists its 8-K, 6-K, 10-Q and 10-K filings with the acceptance time in UTC;
``--match`` pairs them with the log's company-disclosure events and writes
``mib events amend`` proposals that pin a date-only filing stage to the second.

``mib events sources federal-register`` reads Federal Register API answers
(``documents.json``, ``public-inspection-documents``) and lists documents with
their public-inspection time; ``--candidates`` writes draft ``announce``
records for qualifying documents not yet in the log, ``--match`` proposes
exact ``publication`` stages for documents already in it.

Nothing here writes the log: every change is a file for a reviewer
(:mod:`backtest.sources.proposals`), applied with ``mib events add`` /
``mib events amend``.  Network access (:mod:`backtest.sources.http`) has one
total deadline per call, a descriptive User-Agent, a per-host rate limit and
a cache that records each answer's fetch time and SHA-256.
"""

from backtest.sources.errors import SourceError, SourceUnavailable

__all__ = ["SourceError", "SourceUnavailable"]
