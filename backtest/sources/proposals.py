"""Proposals for the log: amend records to review and draft announce records.

Nothing here touches the log.  :func:`match_edgar` and :func:`match_federal_register`
compare source documents with the catalog and return :class:`Finding` objects;
those with an :class:`Amendment` become ``mib events amend`` commands in an
``amend.sh`` that a reviewer reads (with the evidence in ``proposals.yaml`` and
the raw answers beside it) before running it.  :func:`draft_events` turns
qualifying Federal Register documents that are not yet in the log into an
``events:`` curation file that ``mib events add`` accepts unchanged.

Every proposed value is built from the event as it stands
(:func:`~backtest.eventlog.records.event_payload`) with one stage replaced or
added, and is validated as a whole event before it is written, so a proposal
that ``mib events amend`` would refuse is never written.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

from backtest.eventlog.catalog import Catalog
from backtest.eventlog.models import Event, Stage
from backtest.eventlog.records import Announce, event_payload
from backtest.sources.edgar import DISCLOSURE_FORMS, EASTERN, Filing, FilingList, accessions_in
from backtest.sources.federal_register import FRDocument, Qualification, qualification
from backtest.sources.http import Answer
from backtest.universe import Security

Status = Literal[
    "propose", "pinned", "conflict", "ambiguous", "no-filing", "not-covered", "date-only"
]


@dataclass(frozen=True, slots=True)
class Amendment:
    """One ``mib events amend`` record to propose: the fields, their new values, the reason."""

    event_id: str
    changes: dict[str, Any]
    reason: str

    def argv(self, log: str | None = None) -> list[str]:
        """``events amend ID --set FIELD=JSON ... --reason TEXT`` (JSON is YAML flow)."""
        args = ["events", "amend", self.event_id]
        for name, value in self.changes.items():
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            args += ["--set", f"{name}={text}"]
        args += ["--reason", self.reason]
        if log is not None:
            args += ["--log", log]
        return args


@dataclass(frozen=True, slots=True)
class Finding:
    """What a source says about one event stage, and the amendment it supports (if any)."""

    event_id: str
    stage: str
    status: Status
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)
    amendment: Amendment | None = None
    hints: tuple[str, ...] = ()

    def as_dict(self, log: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "event_id": self.event_id,
            "stage": self.stage,
            "status": self.status,
            "detail": self.detail,
        }
        if self.evidence:
            out["evidence"] = self.evidence
        if self.amendment is not None:
            out["changes"] = self.amendment.changes
            out["reason"] = self.amendment.reason
            out["command"] = "mib " + shlex.join(self.amendment.argv(log))
        if self.hints:
            out["hints"] = list(self.hints)
        return out


def _event_text(event: Event) -> str:
    parts = [event.title, event.notes, *(s.note for s in event.stages)]
    parts += [f"{s.url} {s.title}" for s in event.sources]
    return "\n".join(parts)


def _iso(at: dt.datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).isoformat(timespec="seconds")


def _same_instant(a: dt.datetime | None, b: dt.datetime | None) -> bool:
    return a is not None and b is not None and abs((a - b).total_seconds()) < 1


def _validated(event: Event, changes: dict[str, Any]) -> None:
    """Refuse to propose what ``mib events amend`` would refuse (the event re-validated)."""
    Event.model_validate({**event_payload(event), **changes})


_STALE = re.compile(
    r"acceptance (time|timestamp)[^.]{0,80}(not (be )?(retrieved|found|verified)|could not)"
    r"|no exact acceptance time|needs the EDGAR acceptance time"
    r"|time_known (is|stays) false|so time_known is false",
    re.I,
)


def _stale_notes(event: Event) -> tuple[str, ...]:
    """A hint when the event's notes still say the (now exact) time is unknown."""
    if _STALE.search(event.notes or ""):
        return (
            "the event's notes still say the acceptance time is unknown or time_known is "
            "false; amend notes to match the exact stage",
        )
    return ()


# -- EDGAR ---------------------------------------------------------------------------


def issuer_names(security: Security, filings: FilingList) -> set[str]:
    """Upper-case names the log may use as ``authority`` for this issuer."""
    names = {security.symbol.upper()}
    for text in (security.name, filings.name):
        first = re.split(r"[\s,.(]+", text.strip())[0] if text.strip() else ""
        if len(first) >= 3:
            names.add(first.upper())
    return names


def relevant_events(
    catalog: Catalog, security: Security, filings: FilingList
) -> list[tuple[Event, set[str]]]:
    """Events with a filing stage (or company disclosures) by or citing this issuer.

    Returns each event with the accession numbers of this document it cites.
    """
    names = issuer_names(security, filings)
    known = {f.accession for f in filings.filings}
    cik_path = f"/edgar/data/{int(filings.cik)}/" if filings.cik else None
    out = []
    for ev in catalog.events:
        text = _event_text(ev)
        cited = accessions_in(text) & known
        by_issuer = ev.authority.upper() in names
        cites = bool(cited) or (cik_path is not None and cik_path in text)
        if not (by_issuer or cites):
            continue
        if ev.stage("filing") is None and ev.type != "company_disclosure":
            continue
        out.append((ev, cited))
    return out


def _edgar_evidence(f: Filing, answer: Answer) -> dict[str, Any]:
    et = f.accepted_eastern
    return {
        "form": f.form,
        "accession": f.accession,
        "items": ", ".join(f.items),
        "filing_date": f.filing_date.isoformat(),
        "acceptanceDateTime": f.accepted_raw,
        "accepted_utc": f.accepted.isoformat().replace("+00:00", "Z") if f.accepted else "",
        "accepted_eastern": et.isoformat() if et else "",
        "document": f.document_url,
        "source": answer.origin,
        "source_sha256": answer.sha256,
    }


def _pair(
    stage_date: dt.date, filings: Sequence[Filing], cited: set[str]
) -> tuple[list[Filing], str]:
    """Filings that could be the stage (accepted or dated on its date), best first."""
    on_date = [
        f
        for f in filings
        if f.filing_date == stage_date
        or (f.accepted_eastern is not None and f.accepted_eastern.date() == stage_date)
    ]
    by_citation = [f for f in on_date if f.accession in cited]
    if by_citation:
        return by_citation, "cited in the event"
    current = [f for f in on_date if f.form.upper() in DISCLOSURE_FORMS]
    if current:
        return current, "current report on the stage's date"
    return on_date, "filing on the stage's date"


def _source_entry(f: Filing, company: str) -> dict[str, Any]:
    items = f" (items {', '.join(f.items)})" if f.items else ""
    return {
        "url": f.document_url,
        "title": f"{company} Form {f.form}{items}, accession {f.accession}",
        "publisher": "SEC EDGAR",
        "primary": True,
    }


def match_edgar(
    catalog: Catalog,
    security: Security,
    filings: FilingList,
    answer: Answer,
    forms: Iterable[str],
) -> list[Finding]:
    """Pair the issuer's filings with the log's filing stages; propose exact times."""
    chosen = filings.select(forms)
    company = filings.name or security.name
    findings: list[Finding] = []
    for ev, cited in relevant_events(catalog, security, filings):
        target = ev.stage("filing")
        pairing_stage: Stage = target or ev.primary_stage("announcement")
        day = pairing_stage.local_date
        label = (
            target.stage if target else f"filing (new; paired by the {pairing_stage.stage} date)"
        )
        candidates, how = _pair(day, chosen, cited)
        if not candidates:
            lo, hi = filings.first_date, filings.last_date
            covered = lo is not None and hi is not None and lo <= day <= hi
            status: Status = "no-filing" if covered else "not-covered"
            detail = (
                f"no {'/'.join(sorted({f.upper() for f in forms}))} filing accepted or dated "
                f"{day} in this document"
                if covered
                else f"{day} is outside this document ({lo}..{hi}); "
                + ("older pages: " + "; ".join(filings.older_pages) if filings.older_pages else "")
            )
            findings.append(Finding(ev.id, label, status, detail.rstrip("; ")))
            continue
        if len(candidates) > 1:
            shown = ", ".join(f"{f.form} {f.accession} {f.accepted_raw}" for f in candidates)
            findings.append(
                Finding(
                    ev.id,
                    label,
                    "ambiguous",
                    f"{len(candidates)} filings on {day} ({how}): {shown}",
                )
            )
            continue
        f = candidates[0]
        evidence = _edgar_evidence(f, answer)
        if f.accepted is None:
            findings.append(
                Finding(
                    ev.id, label, "no-filing", f"{f.accession} has no acceptance time", evidence
                )
            )
            continue
        findings.append(_edgar_finding(ev, target, f, company, evidence, how, answer))
    return findings


def _edgar_finding(
    ev: Event,
    target: Stage | None,
    f: Filing,
    company: str,
    evidence: dict[str, Any],
    how: str,
    answer: Answer,
) -> Finding:
    assert f.accepted is not None and f.accepted_eastern is not None
    et = f.accepted_eastern
    stamp = f"{et:%Y-%m-%d %H:%M:%S} {et.tzname()}"
    name = target.stage if target else "filing"
    if target is not None and target.at is not None:
        if _same_instant(target.at_utc, f.accepted):
            return Finding(
                ev.id,
                name,
                "pinned",
                f"already exact and equal to the EDGAR acceptance of {f.form} {f.accession} "
                f"({stamp})",
                evidence,
                hints=_stale_notes(ev),
            )
        return Finding(
            ev.id,
            name,
            "conflict",
            f"the log has {target.at.isoformat()} but EDGAR accepted {f.form} {f.accession} at "
            f"{stamp}: check which filing the stage is",
            evidence,
        )
    if target is not None:
        lo, hi = target.not_before, target.not_after
        if (lo is not None and f.accepted < lo) or (hi is not None and f.accepted > hi):
            return Finding(
                ev.id,
                name,
                "conflict",
                f"EDGAR accepted {f.form} {f.accession} at {stamp}, outside the stage's bounds "
                f"({lo.isoformat() if lo else '-'} .. {hi.isoformat() if hi else '-'})",
                evidence,
            )
    zone = target.timezone if target is not None else "America/New_York"
    raw_utc = f.accepted.isoformat().replace("+00:00", "Z")
    fact = (
        f"EDGAR acceptance time of {f.form} accession {f.accession}"
        + (f" (items {', '.join(f.items)})" if f.items else "")
        + f": acceptanceDateTime {f.accepted_raw or raw_utc} = {stamp} "
        f"({_short(answer)})."
    )
    payload = event_payload(ev)
    stages = list(payload["stages"])
    new_stage: dict[str, Any] = {
        "stage": name,
        "timezone": zone,
        "time_known": True,
        "at": _iso(f.accepted, zone),
    }
    if target is not None:
        if target.local_date != et.date():
            fact += (
                f" (The stage's date {target.local_date} was the EDGAR filing date; the filing "
                f"was public on {et.date()} Eastern.)"
            )
        old_note = target.note.strip()
        if target.not_before or target.not_after:
            old_note += " (Bounds superseded by this exact time.)"
        new_stage["note"] = (old_note + " " + fact).strip()
        index = next(i for i, s in enumerate(ev.stages) if s is target)
        stages[index] = new_stage
    else:
        new_stage["note"] = fact
        stages.append(new_stage)
    changes: dict[str, Any] = {"stages": stages}
    acc_compact = f.accession.replace("-", "")
    if not any(acc_compact in str(s.url) for s in ev.sources):
        changes["sources"] = [*payload["sources"], _source_entry(f, company)]
    after = Event.model_validate({**payload, **changes})
    if ev.confidence != "high" and after.official_stage().stage == name:
        changes["confidence"] = "high"
    reason = (
        f"exact {name} time from EDGAR: {f.form} accession {f.accession} accepted "
        f"{raw_utc} = {stamp} ({_short(answer)})"
        + (
            "; primary source for date and time, so confidence high"
            if "confidence" in changes
            else ""
        )
    )
    _validated(ev, changes)
    detail = (
        f"{name} stage {target.local_date} date-only -> {new_stage['at']} ({how})"
        if target is not None
        else f"filing stage added at {new_stage['at']} ({how})"
    )
    return Finding(
        ev.id,
        name,
        "propose",
        detail,
        evidence,
        Amendment(ev.id, changes, reason),
        hints=_stale_notes(ev),
    )


def _short(answer: Answer) -> str:
    where = answer.origin
    if answer.via == "file":
        where = f"saved answer {where}"
    return f"{where}, sha256 {answer.sha256[:12]}"


# -- Federal Register ----------------------------------------------------------------


def _doc_pattern(number: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(number)}(?![\w])")


def _citation_pattern(citation: str) -> re.Pattern[str] | None:
    m = re.match(r"^(\d+)\s*FR\s*(\d+)$", citation.strip())
    if not m:
        return None
    return re.compile(rf"\b{m.group(1)}[\s-]FR[\s-]{m.group(2)}\b")


def events_citing(catalog: Catalog, doc: FRDocument) -> tuple[list[Event], list[Event]]:
    """Events whose sources cite the document (strong), and those that only mention it."""
    pat = _doc_pattern(doc.document_number)
    cit = _citation_pattern(doc.citation) if doc.citation else None
    strong, weak = [], []
    for ev in catalog.events:
        if any(pat.search(str(s.url)) for s in ev.sources):
            strong.append(ev)
            continue
        text = _event_text(ev)
        if pat.search(text) or (cit is not None and cit.search(text)):
            weak.append(ev)
    return strong, weak


def retracted_citing(catalog: Catalog, doc: FRDocument) -> list[str]:
    """Retracted events that cited the document (their ids are never reused)."""
    pat = _doc_pattern(doc.document_number)
    out = []
    for entry in catalog.records:
        rec = entry.record
        if rec.kind == "announce" and rec.event_id in catalog.retracted:
            if isinstance(rec, Announce) and pat.search(_event_text(rec.event)):
                out.append(rec.event_id)
    return out


def fr_event_for(catalog: Catalog, doc: FRDocument) -> tuple[Event | None, str]:
    """The event the document belongs to, or None with the reason."""
    strong, weak = events_citing(catalog, doc)
    if len(strong) == 1:
        return strong[0], "cited in its sources"
    if len(strong) > 1:
        return None, "cited by several events: " + ", ".join(e.id for e in strong)
    if len(weak) == 1:
        return weak[0], "mentioned in its notes"
    if len(weak) > 1:
        return None, "mentioned by several events: " + ", ".join(e.id for e in weak)
    return None, "not in the log"


def _fr_evidence(doc: FRDocument, answers: Sequence[Answer]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "document_number": doc.document_number,
        "type": doc.type,
        "title": doc.title,
        "publication_date": doc.publication_date.isoformat() if doc.publication_date else "",
        "public_inspection": doc.filed_at.isoformat() if doc.filed_at else "",
        "effective_on": doc.effective_on.isoformat() if doc.effective_on else "",
        "citation": doc.citation,
        "url": doc.url,
        "sources": [f"{a.origin} (sha256 {a.sha256[:12]})" for a in answers],
    }
    return {k: v for k, v in out.items() if v}


def match_federal_register(
    catalog: Catalog, docs: Sequence[FRDocument], answers: Sequence[Answer]
) -> list[Finding]:
    """For documents already in the log: exact ``publication`` stages from public inspection."""
    findings: list[Finding] = []
    for doc in docs:
        ev, how = fr_event_for(catalog, doc)
        if ev is None:
            if how != "not in the log":
                findings.append(
                    Finding("-", "publication", "ambiguous", f"FR Doc. {doc.document_number} {how}")
                )
            continue
        findings.append(_fr_finding(ev, doc, how, _fr_evidence(doc, answers), answers))
    return findings


def _fr_finding(
    ev: Event, doc: FRDocument, how: str, evidence: dict[str, Any], answers: Sequence[Answer]
) -> Finding:
    stage = ev.stage("publication")
    pub = doc.publication_date
    label = f"FR Doc. {doc.document_number} ({how})"
    if doc.filed_at is None:
        if stage is not None and (stage.at is not None or stage.local_date == pub or pub is None):
            return Finding(
                ev.id,
                "publication",
                "date-only" if stage.at is None else "pinned",
                f"{label}: the answer has no public-inspection time (fetch "
                f"public-inspection-documents/{doc.document_number}.json or save it and pass it "
                "with --from-file); the stage agrees with the publication date "
                f"{pub or stage.local_date}",
                evidence,
            )
        if stage is not None:
            return Finding(
                ev.id,
                "publication",
                "conflict",
                f"{label}: published {pub}, but the log's publication stage is {stage.local_date}",
                evidence,
            )
        if pub is None:
            return Finding(
                ev.id, "publication", "date-only", f"{label}: no dates in the answer", evidence
            )
        new: dict[str, Any] = {
            "stage": "publication",
            "timezone": "America/New_York",
            "time_known": False,
            "date": pub.isoformat(),
            "note": f"Federal Register publication, FR Doc. {doc.document_number}"
            + (f", {doc.citation}" if doc.citation else "")
            + " (Federal Register API; public-inspection time not in the answer).",
        }
        added = {"stages": [*event_payload(ev)["stages"], new]}
        _validated(ev, added)
        reason = (
            f"publication stage from the Federal Register API: FR Doc. {doc.document_number} "
            f"published {pub}"
        )
        return Finding(
            ev.id,
            "publication",
            "propose",
            f"{label}: add publication stage {pub} (date only)",
            evidence,
            Amendment(ev.id, added, reason),
        )
    filed = doc.filed_at
    et = filed.astimezone(EASTERN)
    stamp = f"{et:%Y-%m-%d %H:%M} {et.tzname()}"
    if stage is not None and stage.at is not None:
        if _same_instant(stage.at_utc, filed):
            return Finding(
                ev.id, "publication", "pinned", f"{label}: already exact ({stamp})", evidence
            )
        return Finding(
            ev.id,
            "publication",
            "conflict",
            f"{label}: the log has {stage.at.isoformat()} but public inspection was {stamp}",
            evidence,
        )
    if stage is not None:
        lo, hi = stage.not_before, stage.not_after
        if (lo is not None and filed < lo) or (hi is not None and filed > hi):
            return Finding(
                ev.id,
                "publication",
                "conflict",
                f"{label}: public inspection {stamp} is outside the stage's bounds",
                evidence,
            )
    zone = stage.timezone if stage is not None else "America/New_York"
    fact = (
        f"Federal Register public inspection of FR Doc. {doc.document_number} filed {stamp} "
        f"(filed_at {filed.isoformat()}, Federal Register API"
        + (f"; {answers[0].origin}, sha256 {answers[0].sha256[:12]}" if answers else "")
        + ")"
        + (f"; published {pub}" if pub else "")
        + (f", {doc.citation}" if doc.citation else "")
        + "."
    )
    new_stage: dict[str, Any] = {
        "stage": "publication",
        "timezone": zone,
        "time_known": True,
        "at": _iso(filed, zone),
        "note": ((stage.note.strip() + " ") if stage is not None and stage.note else "") + fact,
    }
    payload = event_payload(ev)
    stages = list(payload["stages"])
    if stage is not None:
        stages[next(i for i, s in enumerate(ev.stages) if s is stage)] = new_stage
    else:
        stages.append(new_stage)
    changes: dict[str, Any] = {"stages": stages}
    _validated(ev, changes)
    reason = (
        f"exact publication stage from the Federal Register public-inspection time: FR Doc. "
        f"{doc.document_number} filed {filed.isoformat()}"
    )
    before = f"{stage.local_date} date-only" if stage is not None else "(none)"
    return Finding(
        ev.id,
        "publication",
        "propose",
        f"{label}: publication {before} -> {new_stage['at']}",
        evidence,
        Amendment(ev.id, changes, reason),
    )


# -- draft announce records ----------------------------------------------------------

_PREFIX = {"US-BIS": "bis", "US-President": "us", "US-Commerce": "us-commerce"}
_EASING = re.compile(
    r"\b(removal|removes?|rescission|rescind|suspension|suspends?|delay|relief|"
    r"case-by-case|extension of (the )?(temporary )?general license)\b",
    re.I,
)


def _slug(text: str, words: int = 8) -> str:
    parts = re.findall(r"[a-z0-9]+", text.lower())
    stop = {"the", "of", "and", "to", "for", "in", "on", "a", "an", "certain"}
    kept = [p for p in parts if p not in stop][:words]
    return "-".join(kept) or "document"


def _guess(doc: FRDocument, q: Qualification) -> tuple[str, str, str, int]:
    """(type, direction, affected group, sign) guessed from the title and abstract."""
    text = f"{doc.title} {doc.action}"
    easing = bool(_EASING.search(text)) and not re.search(r"\baddition", text, re.I)
    direction = "easing" if easing else "tightening"
    if "Entity List" in q.weak and re.search(r"entity list", doc.title, re.I):
        kind = "entity_listing"
    elif easing:
        kind = "relaxation"
    else:
        kind = "tightening"
    strong = set(q.strong)
    if strong & {
        "advanced computing",
        "artificial intelligence",
        "supercomputer",
        "integrated circuits",
        "model weights",
        "high-bandwidth memory",
        "chips",
    }:
        group = "us_incumbent"
    elif strong & {"semiconductor manufacturing items", "validated end-user", "lithography"}:
        group = "us_equipment"
    else:
        group = "us_semis"
    return kind, direction, group, (1 if easing else -1)


def draft_event(
    doc: FRDocument, q: Qualification, taken: set[str], answers: Sequence[Answer]
) -> dict[str, Any]:
    """A draft ``announce`` event (plain data) for a qualifying document not in the log."""
    authority = doc.authority
    pi = doc.filed_at_eastern
    day = pi.date() if pi is not None else doc.publication_date
    assert day is not None
    prefix = _PREFIX.get(authority, authority.lower())
    base = f"{prefix}-{day.isoformat()}-{_slug(doc.title, 6)}"
    ident = base
    if ident in taken:
        ident = f"{base}-fr-{_slug(doc.document_number)}"
    n = 2
    while ident in taken:
        ident = f"{base}-fr-{_slug(doc.document_number)}-{n}"
        n += 1
    taken.add(ident)
    kind, direction, group, sign = _guess(doc, q)
    cited = f"FR Doc. {doc.document_number}" + (f", {doc.citation}" if doc.citation else "")
    stages: list[dict[str, Any]] = []
    if doc.filed_at is not None:
        stages.append(
            {
                "stage": "publication",
                "timezone": "America/New_York",
                "time_known": True,
                "at": _iso(doc.filed_at, "America/New_York"),
                "note": f"Federal Register public inspection ({cited}; filed_at from the "
                "Federal Register API)"
                + (f"; published {doc.publication_date}" if doc.publication_date else "")
                + ".",
            }
        )
    else:
        stages.append(
            {
                "stage": "publication",
                "timezone": "America/New_York",
                "time_known": False,
                "date": day.isoformat(),
                "note": f"Federal Register publication date ({cited}); the public-inspection "
                "time was not in the answer.",
            }
        )
    if doc.effective_on is not None:
        stages.append(
            {
                "stage": "effective",
                "timezone": "America/New_York",
                "time_known": False,
                "date": doc.effective_on.isoformat(),
                "note": "effective date per the Federal Register API (effective_on)",
            }
        )
    sources = [
        {
            "url": doc.url,
            "title": f"{doc.title} ({cited})"[:300],
            "publisher": "Federal Register",
            "primary": True,
        }
    ]
    if doc.pdf_url:
        sources.append(
            {"url": doc.pdf_url, "title": f"{cited}, PDF", "publisher": "GovInfo", "primary": True}
        )
    if doc.public_inspection_pdf_url:
        sources.append(
            {
                "url": doc.public_inspection_pdf_url,
                "title": f"{cited}, public-inspection PDF",
                "publisher": "Federal Register",
                "primary": True,
            }
        )
    weak_only = bool(q.weak) and not q.strong
    why = (
        " Only 'Entity List' matched: check that the entries concern chips or chip-making "
        "(events/README.md, What qualifies), else delete this draft."
        if weak_only
        else ""
    )
    answer_note = "; ".join(f"{a.origin} (sha256 {a.sha256[:12]})" for a in answers)
    action = doc.action.rstrip(". ")
    notes = (
        f"Drafted by `mib events sources federal-register` from {answer_note}: {cited}, {doc.type}"
        + (f" ({action})" if action else "")
        + f". Qualification terms matched: {q.reason}.{why} Type, direction and affected are "
        "guessed from the title: review them, and add the BIS press release as an "
        "announcement stage if there is one."
    )
    if doc.filed_at is None:
        confidence = "low" if weak_only else "medium"
    else:
        confidence = "low" if weak_only else "high"
    return {
        "id": ident,
        "title": doc.title[:300],
        "authority": authority,
        "jurisdiction": "US",
        "type": kind,
        "direction": direction,
        "stages": stages,
        "affected": [{"target": group, "sign": sign, "note": "guessed from the title; review"}],
        "sources": sources,
        "confidence": confidence,
        "notes": notes,
    }


@dataclass(frozen=True, slots=True)
class CandidateReport:
    drafts: tuple[dict[str, Any], ...]
    skipped: tuple[tuple[str, str], ...]  # (document number, why)


def draft_events(
    catalog: Catalog, docs: Sequence[FRDocument], answers: Sequence[Answer]
) -> CandidateReport:
    """Drafts for qualifying documents that no event (in force or retracted) cites."""
    taken = set(catalog.ids) | set(catalog.retracted)
    drafts: list[dict[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    for doc in docs:
        ev, how = fr_event_for(catalog, doc)
        if ev is not None or how != "not in the log":
            skipped.append((doc.document_number, f"in the log ({ev.id if ev else how})"))
            continue
        gone = retracted_citing(catalog, doc)
        if gone:
            skipped.append((doc.document_number, f"cited by retracted event {gone[0]}"))
            continue
        q = qualification(doc)
        if not q.qualifies:
            skipped.append((doc.document_number, f"does not qualify: {q.reason}"))
            continue
        if doc.publication_date is None and doc.filed_at is None:
            skipped.append((doc.document_number, "no publication date or public-inspection time"))
            continue
        raw = draft_event(doc, q, taken, answers)
        Event.model_validate(raw)  # never write a draft `mib events add` would refuse
        drafts.append(raw)
    return CandidateReport(tuple(drafts), tuple(skipped))
