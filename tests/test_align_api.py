"""Alignment API: selection and signs, attrition, session windows, overlaps, masks, CLI."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pytest
import typer
from pydantic import ValidationError
from typer.testing import CliRunner

from backtest.align import (
    ATTRITION_COLUMNS,
    INSTANCE_COLUMNS,
    MASK_COLUMNS,
    OVERLAP_COLUMNS,
    AlignError,
    AlignSpec,
    SessionOutOfRange,
    UnknownSelection,
    align,
    estimation_mask,
    overlaps,
    session_offset,
    window_sessions,
)
from backtest.errors import MibError
from backtest.eventlog.models import Event, Stage
from backtest.universe import Security, Universe

NY, SH = "America/New_York", "Asia/Shanghai"


def _sec(symbol: str, mic: str, group: str, **kw: object) -> Security:
    cur = {"XNAS": "USD", "XNYS": "USD", "ARCX": "USD", "XSHG": "CNY", "XSHE": "CNY"}
    return Security(
        symbol=symbol, name=symbol, mic=mic, currency=cur.get(mic, "HKD"), group=group, **kw
    )


UNIVERSE = Universe(
    securities=(
        _sec("NVDA", "XNAS", "us_incumbent"),
        _sec("AMD", "XNAS", "us_incumbent"),
        _sec("688256.SS", "XSHG", "cn_substitute", board="star", listed="2020-07-20"),
        _sec("688041.SS", "XSHG", "cn_substitute", board="star", listed="2022-08-12"),
        _sec("002371.SZ", "XSHE", "cn_substitute", board="main"),
        _sec("SPY", "ARCX", "benchmark", kind="etf"),
    )
)


def make_event(
    event_id: str,
    stages: dict[str, str],
    *,
    tz: str = NY,
    affected: tuple[tuple[str, int], ...] = (("us_incumbent", -1),),
    event_type: str = "restriction",
) -> Event:
    """Event with stages {name: ISO instant with offset | YYYY-MM-DD (date only)}."""
    built = []
    for name, when in stages.items():
        exact = "T" in when
        built.append(
            {"stage": name, "timezone": tz, "time_known": exact, ("at" if exact else "date"): when}
        )
    return Event(
        id=event_id,
        title=event_id,
        authority="US-BIS",
        jurisdiction="US",
        type=event_type,
        direction="tightening",
        stages=tuple(built),
        affected=tuple({"target": t, "sign": s} for t, s in affected),
        sources=({"url": "https://example.org/x", "title": "source"},),
    )


# --- selection, signs and stages ---------------------------------------------------------


def test_columns_and_default_selection_skip_benchmarks() -> None:
    ev = make_event(
        "e1",
        {"announcement": "2025-04-15T16:10:00-04:00"},
        affected=(("us_incumbent", -1), ("SPY", -1)),
    )
    result = align([ev], UNIVERSE)
    assert tuple(result.instances.columns) == INSTANCE_COLUMNS
    assert tuple(result.attrition.columns) == ATTRITION_COLUMNS
    assert sorted(result.instances["security"]) == ["AMD", "NVDA"]  # SPY is a benchmark
    explicit = align([ev], UNIVERSE, AlignSpec(securities=("SPY",)))
    assert list(explicit.instances["exchange"]) == ["XNYS"]  # ARCX trades on XNYS hours


def test_symbol_sign_beats_group_sign_and_coverage_all() -> None:
    ev = make_event(
        "e1",
        {"announcement": "2025-04-15T16:10:00-04:00"},
        affected=(("688256.SS", -1), ("cn_substitute", 1)),
    )
    result = align([ev], UNIVERSE)
    signs = dict(zip(result.instances["security"], result.instances["expected_sign"], strict=True))
    assert signs == {"688256.SS": -1, "688041.SS": 1, "002371.SZ": 1}
    assert set(result.instances.loc[result.instances["security"] == "002371.SZ", "exchange"]) == {
        "XSHG"
    }
    everyone = align([ev], UNIVERSE, AlignSpec(coverage="all"))
    nvda = everyone.instances.set_index("security").loc["NVDA"]
    assert pd.isna(nvda["expected_sign"])
    assert len(everyone.instances) == 5


def test_first_stage_and_missing_stage() -> None:
    ev = make_event(
        "e1", {"leak": "2025-04-10T21:00:00-04:00", "announcement": "2025-04-15T16:10:00-04:00"}
    )
    first = align([ev], UNIVERSE, AlignSpec(stage="first", securities=("NVDA",)))
    row = first.instances.iloc[0]
    assert row["stage"] == "leak" and row["day0"] == pd.Timestamp("2025-04-11")
    missing = align([ev], UNIVERSE, AlignSpec(stage="publication"))
    assert missing.instances.empty
    assert set(missing.attrition["reason"]) == {"stage_missing"}
    assert sorted(missing.attrition["security"]) == ["AMD", "NVDA"]
    assert "leak, announcement" in missing.attrition["detail"].iloc[0]


def test_official_stage_skips_leaks_and_takes_the_earliest_official_stage() -> None:
    # An 8-K filed after the close (16:30) precedes the agency's announcement next
    # morning; the leak two days earlier is not an official stage.
    ev = make_event(
        "e1",
        {
            "leak": "2025-04-13T10:00:00-04:00",
            "announcement": "2025-04-16T09:00:00-04:00",
            "filing": "2025-04-15T16:30:00-04:00",
        },
    )
    row = align([ev], UNIVERSE, AlignSpec(stage="official", securities=("NVDA",))).instances
    assert row["stage"].iloc[0] == "filing"
    assert row["day0"].iloc[0] == pd.Timestamp("2025-04-16")
    # With only a leak, the official choice falls back to the earliest public stage.
    only_leak = make_event("e2", {"leak": "2025-04-13T10:00:00-04:00"})
    row = align([only_leak], UNIVERSE, AlignSpec(stage="official", securities=("NVDA",))).instances
    assert row["stage"].iloc[0] == "leak" and row["day0"].iloc[0] == pd.Timestamp("2025-04-14")


def test_bounds_clamp_an_assumed_time() -> None:
    # An 8-K whose time is unknown but which was reported as filed after the US close:
    # noon (business hours) would make 2025-04-15 day 0 on XNAS; the bound moves it to the
    # next session, and Shanghai's next session (opening 21:30 New York time) is still the 16th.
    stage = {
        "stage": "filing",
        "timezone": NY,
        "time_known": False,
        "date": "2025-04-15",
        "not_before": "2025-04-15T16:00:00-04:00",
    }
    ev = make_event("e1", {"filing": "2025-04-15"}).model_copy(
        update={"stages": (Stage.model_validate(stage),)}
    )
    rows = align(
        [ev], UNIVERSE, AlignSpec(stage="filing", securities=("NVDA", "688256.SS"), coverage="all")
    ).instances.set_index("security")
    assert rows.loc["NVDA", "day0"] == pd.Timestamp("2025-04-16")
    assert rows.loc["688256.SS", "day0"] == pd.Timestamp("2025-04-16")
    assert rows.loc["NVDA", "time_policy"] == "business_hours, clamped to not_before"
    assert "clamped to not_before" in rows.loc["NVDA", "decided_by"]
    # A report time stamp bounds from above: MOFCOM graphite Q&A reposted 11:30 Beijing,
    # so the end-of-day policy cannot push it past that instant.
    up = {
        "stage": "announcement",
        "timezone": "Asia/Shanghai",
        "time_known": False,
        "date": "2023-10-20",
        "not_after": "2023-10-20T11:30:00+08:00",
    }
    ev2 = make_event("e2", {"announcement": "2023-10-20"}).model_copy(
        update={"stages": (Stage.model_validate(up),)}
    )
    late = align(
        [ev2],
        UNIVERSE,
        AlignSpec(unknown_time="end_of_day", coverage="all", securities=("688256.SS",)),
    ).instances
    assert late["day0"].iloc[0] == pd.Timestamp("2023-10-20")


def test_bounds_are_refused_on_exact_stages() -> None:
    with pytest.raises(ValidationError, match="not_before/not_after bound a date-only stage"):
        make_event("e1", {"filing": "2025-04-15T16:30:00-04:00"}).model_validate(
            {
                **make_event("e1", {"filing": "2025-04-15"}).model_dump(mode="json"),
                "stages": [
                    {
                        "stage": "filing",
                        "timezone": NY,
                        "time_known": True,
                        "at": "2025-04-15T16:30:00-04:00",
                        "not_before": "2025-04-15T16:00:00-04:00",
                    }
                ],
            }
        )


def test_unknown_selection_is_a_user_error() -> None:
    with pytest.raises(UnknownSelection, match="XYZ") as info:
        align([], UNIVERSE, AlignSpec(securities=("NVDA", "XYZ")))
    assert isinstance(info.value, MibError)
    with pytest.raises(ValidationError):
        AlignSpec(securities=(" ",))
    with pytest.raises(ValidationError):
        AlignSpec(stage="rumour")  # type: ignore[arg-type]


# --- attrition ---------------------------------------------------------------------------


def test_attrition_reasons() -> None:
    before_listing = make_event(
        "early",
        {"announcement": "2022-06-01T10:00:00+08:00"},
        tz=SH,
        affected=(("688041.SS", 1), ("688256.SS", 1)),
    )
    unknown = make_event(
        "ghost", {"announcement": "2025-04-15T16:10:00-04:00"}, affected=(("NVDA", -1), ("ZZZZ", 1))
    )
    too_old = make_event("old", {"announcement": "2004-06-01T10:00:00-04:00"})
    result = align([before_listing, unknown, too_old], UNIVERSE)
    reasons = {(r.event_id, r.security): r.reason for r in result.attrition.itertuples(index=False)}
    assert reasons == {
        ("early", "688041.SS"): "before_listing",
        ("ghost", "ZZZZ"): "not_in_universe",
        ("old", "NVDA"): "no_session",
        ("old", "AMD"): "no_session",
    }
    assert set(result.instances["event_id"]) == {"early", "ghost"}
    assert "attrition: 4" in result.summary()


def test_data_ranges() -> None:
    ev = make_event("e1", {"announcement": "2025-04-15T16:10:00-04:00"})
    ranges = {"NVDA": (dt.date(2020, 1, 2), dt.date(2025, 4, 15))}
    result = align([ev], UNIVERSE, data_ranges=ranges)
    reasons = dict(zip(result.attrition["security"], result.attrition["reason"], strict=True))
    assert reasons == {"NVDA": "outside_data_range", "AMD": "no_data"}
    ok = align(
        [ev],
        UNIVERSE,
        data_ranges={
            "NVDA": (dt.date(2020, 1, 2), dt.date(2025, 4, 16)),
            "AMD": (dt.date(2020, 1, 2), dt.date(2025, 4, 16)),
        },
    )
    assert ok.attrition.empty and len(ok.instances) == 2


# --- windows in sessions -----------------------------------------------------------------


def test_session_offset_and_window() -> None:
    # Golden Week 2022: the session after Fri 09-30 on XSHG is Mon 10-10.
    assert session_offset("XSHG", "2022-09-30", 1) == pd.Timestamp("2022-10-10")
    assert session_offset("XSHG", "2022-10-10", -1) == pd.Timestamp("2022-09-30")
    # Good Friday 2025: two XNAS sessions after Wed 04-16 is Mon 04-21.
    win = window_sessions("XNAS", "2025-04-16", -1, 2)
    assert list(win.strftime("%Y-%m-%d")) == [
        "2025-04-15",
        "2025-04-16",
        "2025-04-17",
        "2025-04-21",
    ]
    assert session_offset("XNAS", "2025-04-16", 0) == pd.Timestamp("2025-04-16")


def test_window_errors() -> None:
    with pytest.raises(SessionOutOfRange, match="not a XNAS session"):
        session_offset("XNAS", "2025-04-18", 1)  # Good Friday
    with pytest.raises(SessionOutOfRange):
        session_offset("XNAS", "2005-01-04", -5)
    with pytest.raises(SessionOutOfRange):
        window_sessions("XNAS", "2025-04-16", 2, -1)


# --- overlaps and estimation masks -------------------------------------------------------


def _catalog() -> list[Event]:
    return [
        make_event("main", {"announcement": "2025-04-15T16:10:00-04:00"}),  # XNAS day 0 04-16
        # A confounder 3 XNAS sessions later (04-17, 04-21, 04-22): rel_day +3.
        make_event(
            "deepseek", {"publication": "2025-04-21T20:00:00-04:00"}, event_type="confounder"
        ),
        # Leak before close on 04-15 (day 0 04-15, rel -1) and its effective date (ignored
        # under the default 'public' stages).
        make_event(
            "other", {"leak": "2025-04-15T10:00:00-04:00", "effective": "2025-04-16T10:00:00-04:00"}
        ),
        # Twenty XNAS sessions before main: 03-19..03-31 has 9 sessions, 04-01..04-15 has
        # 11, so Wed 2025-03-19 is rel -20.
        make_event("earlier", {"announcement": "2025-03-19T11:00:00-04:00"}),
    ]


def test_overlaps_lists_event_and_estimation_window_hits() -> None:
    catalog = _catalog()
    main = align(catalog[:1], UNIVERSE, AlignSpec(securities=("NVDA",)))
    found = overlaps(main, catalog, UNIVERSE, window=(-1, 5), estimation=(-30, -2))
    assert tuple(found.columns) == OVERLAP_COLUMNS
    got = {
        (r.other_event_id, r.other_stage, r.where, r.rel_day) for r in found.itertuples(index=False)
    }
    assert got == {
        ("other", "leak", "event_window", -1),
        ("deepseek", "publication", "event_window", 3),
        ("earlier", "announcement", "estimation_window", -20),
    }
    assert set(found.loc[found["other_event_id"] == "deepseek", "other_type"]) == {"confounder"}
    from_alignment = overlaps(
        main,
        align(catalog, UNIVERSE, AlignSpec(stage="first")),
        window=(-1, 5),
        estimation=(-30, -2),
    )
    assert set(from_alignment["other_event_id"]) == {"other", "deepseek", "earlier"}


def test_estimation_mask_pads_other_events() -> None:
    catalog = _catalog()
    main = align(catalog[:1], UNIVERSE, AlignSpec(securities=("NVDA",)))
    mask = estimation_mask(main, catalog, estimation=(-30, -2))
    assert tuple(mask.columns) == MASK_COLUMNS
    # 'earlier' at -20 masks -21..-19; the leak at -1 masks -2 (its -1..0 are outside).
    assert list(mask["rel_day"]) == [-21, -20, -19, -2]
    assert list(mask["other_event_ids"]) == ["earlier", "earlier", "earlier", "other"]
    none = estimation_mask(main, catalog, policy="none")
    assert none.empty and tuple(none.columns) == MASK_COLUMNS
    with pytest.raises(AlignError):
        estimation_mask(main, catalog, policy="drop_all")  # type: ignore[arg-type]
    other_universe = Universe(securities=(_sec("NVDA", "XSHG", "cn_substitute"),))
    with pytest.raises(AlignError, match="NVDA trades on XSHG, not XNAS"):
        estimation_mask(main, catalog, other_universe)


# --- CLI ---------------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> tuple[CliRunner, typer.Typer]:
    from backtest.cli import align_cmd

    events = (
        *_catalog(),
        make_event(
            "cn",
            {"announcement": "2024-12-03T09:00:00+08:00"},
            tz=SH,
            affected=(("cn_substitute", 1),),
        ),
    )
    monkeypatch.setattr(align_cmd, "_load_events", lambda log, version: (events, "v3:abcdef"))
    monkeypatch.setattr("backtest.universe.load_universe", lambda path=None: UNIVERSE)
    app = typer.Typer()

    @app.callback()
    def _group() -> None:
        """events"""

    align_cmd.register(app)
    return CliRunner(), app


def test_cli_csv(cli: tuple[CliRunner, typer.Typer]) -> None:
    runner, app = cli
    res = runner.invoke(
        app, ["align", "--format", "csv", "--securities", "NVDA,002371.SZ", "--stage", "first"]
    )
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.stdout.splitlines() if not ln.startswith("attrition:")]
    frame = pd.read_csv(io.StringIO("\n".join(lines)))
    assert list(frame.columns) == [
        "event_id",
        "stage",
        "security",
        "exchange",
        "announced_at_utc",
        "time_assumed",
        "day0",
        "decided_by",
    ]
    cn = frame[frame["event_id"] == "cn"].iloc[0]
    assert (cn["security"], cn["exchange"], cn["day0"]) == ("002371.SZ", "XSHG", "2024-12-03")
    assert cn["announced_at_utc"] == "2024-12-03T01:00Z"
    assert "attrition: 0 (none)" in res.output


def test_cli_table_and_errors(cli: tuple[CliRunner, typer.Typer]) -> None:
    runner, app = cli
    res = runner.invoke(app, ["align", "--stage", "publication"])
    assert res.exit_code == 0, res.output
    assert "deepseek" in res.output and "log v3:abcdef" in res.output
    # No publication stage: main, other, earlier (NVDA, AMD each) and cn (3 A-shares).
    assert "attrition: 9 (stage_missing 9)" in res.output
    bad = runner.invoke(app, ["align", "--securities", "NOPE"])
    assert isinstance(bad.exception, UnknownSelection)
    wrong = runner.invoke(app, ["align", "--unknown-time", "noon"])
    assert wrong.exit_code == 2


def test_cli_all_securities(cli: tuple[CliRunner, typer.Typer]) -> None:
    runner, app = cli
    res = runner.invoke(
        app,
        [
            "align",
            "--format",
            "csv",
            "--securities",
            "688256.SS",
            "--all-securities",
            "--stage",
            "first",
            "--alternate",
        ],
    )
    assert res.exit_code == 0, res.output
    rows = [ln for ln in res.stdout.splitlines()[1:] if not ln.startswith("attrition:")]
    # Every one of the five catalog events, though only 'cn' names 688256.SS.
    assert sorted(r.split(",")[0] for r in rows) == ["cn", "deepseek", "earlier", "main", "other"]
