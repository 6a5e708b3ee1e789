"""Hand-checked day-0 cases taken from the curated event log (timing as data).

Each case loads the real catalog from events/export_controls.yaml, pinned to the
log version written right after the curation pass (so later appends cannot
change what is tested), aligns the event with the default ``official`` stage and
asserts day 0 on every exchange of the universe: XNAS (NVDA), XSHG (002371.SZ,
Shenzhen shares the Shanghai calendar) and XHKG (0981.HK).

Rule (DESIGN section 3): day 0 is the first session of the exchange whose close
is strictly after the instant.  Closes: XNAS 16:00 ET, XSHG 15:00 Beijing,
XHKG 16:00 HKT.  A date-only stage is placed at 12:00 local and clamped into
[not_before, not_after]; each case also checks that the stage's data pin day 0,
i.e. start-of-day and end-of-day placement give the same sessions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from backtest.align import AlignSpec, align
from backtest.eventlog import load_catalog
from backtest.universe import load_universe

# Log version after the curation pass; load_catalog checks records 1..155 still hash to it.
ROOT = Path(__file__).resolve().parents[1]
LOG_VERSION = "v155:b85c146a34d2"
SECURITIES = ("NVDA", "002371.SZ", "0981.HK")


@dataclass(frozen=True)
class Case:
    event_id: str
    stage: str  # the official stage expected to set day 0
    xnas: str
    xshg: str
    xhkg: str


CASES = [
    # --- after-close US news: next US session, and the same night's Shanghai session -----
    # H20 sales resumption: not_before 20:00 EDT 07-14 (NVDA ext-hours tape flat to 19:55,
    # et_5m_ext_Tanushree28), not_after 14:44 Beijing 07-15 (AFP item, The Sun).  Placed at
    # 20:00 EDT = 08:00 Beijing 07-15: XNAS 07-14 had closed -> 07-15; XSHG/XHKG 07-15 close
    # at 15:00/16:00 Beijing, after it.  (Was 07-14 in New York before curation.)
    Case(
        "nvda-2025-07-14-h20-sales-resumption",
        "announcement",
        "2025-07-15",
        "2025-07-15",
        "2025-07-15",
    ),
    # H200 post: [16:00, 19:30] EST 12-08 (after-hours +2%; AsianFin item 7:30 p.m. ET).
    # 16:00 EST is the XNAS close itself, not strictly before it -> 12-09; 16:00 EST =
    # 05:00 Beijing 12-09, before the 12-09 XSHG/XHKG closes -> 12-09.
    Case(
        "trump-2025-12-08-h200-exports-allowed",
        "announcement",
        "2025-12-09",
        "2025-12-09",
        "2025-12-09",
    ),
    # NVIDIA H20 8-K, EDGAR acceptance 21:22:59Z = 17:22:59 EDT 04-15 (CIK0001045810.json):
    # after the XNAS close -> 04-16; = 05:22 Beijing 04-16 -> XSHG/XHKG 04-16.
    Case("nvda-2025-04-15-h20-licence-8k", "filing", "2025-04-16", "2025-04-16", "2025-04-16"),
    # A100/H100 8-K, EDGAR acceptance 21:00:22Z = 17:00:22 EDT 08-31: XNAS 09-01; 05:00
    # Beijing 09-01 -> XSHG/XHKG 09-01.
    Case(
        "nvidia-2022-08-31-8k-a100-h100-licence-requirement",
        "filing",
        "2022-09-01",
        "2022-09-01",
        "2022-09-01",
    ),
    # DoD 'evening statement' (CNBC): [16:00, 17:23] EST 12-03 (SCMP/Reuters 06:23 HKT).
    # 16:00 EST = 05:00 Beijing 12-04 -> all three 12-04.  (Was 12-03 in New York.)
    Case(
        "dod-2020-12-03-smic-chinese-military-company-list",
        "announcement",
        "2020-12-04",
        "2020-12-04",
        "2020-12-04",
    ),
    # Nvidia results: [16:00, 16:22:18] EDT 05-24 (8-K accepted 20:22:18Z) -> 05-25 on all
    # three (04:00 Beijing 05-25).  (Was 05-24 in New York.)
    Case(
        "nvidia-2023-05-24-q1-fy24-guidance",
        "announcement",
        "2023-05-25",
        "2023-05-25",
        "2023-05-25",
    ),
    # --- evening Beijing news: next Shanghai session; US the same calendar day ------------
    # SAMR Nvidia probe, 'evening' (HK01/Caijing): [16:00, 22:30] Beijing 12-09.  16:00 is
    # after the 15:00 XSHG close and equals the 16:00 XHKG close -> both Tue 12-10; 16:00
    # Beijing = 03:00 EST 12-09, before the XNAS close -> Mon 12-09.  (Shanghai was 12-09.)
    Case(
        "samr-2024-12-09-nvidia-antitrust-probe",
        "announcement",
        "2024-12-09",
        "2024-12-10",
        "2024-12-10",
    ),
    # MOFCOM No. 70, Friday dusk (UDN '昨傍晚'): not_before 16:00 Beijing 11-07 -> XSHG/XHKG
    # Mon 11-10; 03:00 EST Fri 11-07 (and the date's end, 10:59 EST) precede the XNAS close
    # -> Fri 11-07.  (Shanghai/HK were 11-07.)
    Case(
        "mofcom-2025-11-07-rare-earth-controls-suspension",
        "announcement",
        "2025-11-07",
        "2025-11-10",
        "2025-11-10",
    ),
    # --- before the US open, after the Asian close -----------------------------------------
    # H100 8-K, EDGAR acceptance 11:05:16Z = 07:05:16 EDT 09-01: XNAS 09-01; the 09-01
    # XSHG/XHKG sessions closed at 03:00/04:00 EDT -> 09-02.
    Case(
        "nvidia-2022-09-01-8k-h100-development-authorised",
        "filing",
        "2022-09-01",
        "2022-09-02",
        "2022-09-02",
    ),
    # MI308 8-K, EDGAR acceptance 13:03:30Z = 09:03:30 EDT 04-16 (CIK0000002488.json):
    # XNAS 04-16; XSHG/XHKG 04-17.
    Case("amd-2025-04-16-mi308-8k", "filing", "2025-04-16", "2025-04-17", "2025-04-17"),
    # 'Effective immediately' 8-K, EDGAR acceptance 13:00:18Z = 09:00:18 EDT 10-24:
    # XNAS 10-24; XSHG/XHKG 10-25.
    Case(
        "nvidia-2023-10-24-8k-rules-effective-immediately",
        "filing",
        "2023-10-24",
        "2023-10-25",
        "2023-10-25",
    ),
    # Ross's Friday-morning Fox Business confirmation: [05:00, 06:47] EST 12-18 (Reuters
    # item created 17:17 IST).  Placed at 06:47 EST: XNAS 12-18; XSHG/XHKG closed at
    # 02:00/03:00 EST -> Mon 12-21.
    Case(
        "bis-2020-12-18-smic-entity-list", "announcement", "2020-12-18", "2020-12-21", "2020-12-21"
    ),
    # --- during the US session ---------------------------------------------------------------
    # BIS rules 'announced late-morning' (Barron's): [09:30, 12:00] EDT Fri 10-07.  XNAS
    # 10-07; XSHG closed for Golden Week -> Mon 10-10; XHKG's 10-07 session closed 04:00
    # EDT -> Mon 10-10.
    Case(
        "bis-2022-10-07-advanced-computing-semiconductor-rules",
        "announcement",
        "2022-10-07",
        "2022-10-10",
        "2022-10-10",
    ),
    # BIS update 'early Tuesday': [05:00, 12:00] EDT 10-17 (NVDA/QQQ pre-market tape flat
    # until the 06:00 bar, gcfc).  XNAS 10-17; XSHG/XHKG 10-18.
    Case(
        "bis-2023-10-17-advanced-computing-sme-update",
        "announcement",
        "2023-10-17",
        "2023-10-18",
        "2023-10-18",
    ),
    # First tariff post: [10:50, 11:00] EDT 10-10 (QQQ and NVDA break in the 10:55 bar).
    # XNAS Fri 10-10; XSHG/XHKG Mon 10-13.
    Case(
        "trump-2025-10-10-100pct-tariff-threat",
        "announcement",
        "2025-10-10",
        "2025-10-13",
        "2025-10-13",
    ),
    # Trump's 10 a.m. White House news conference (NBC live blog): [10:00, 12:00] EDT 08-11.
    # XNAS 08-11; XSHG/XHKG 08-12.
    Case(
        "us-2025-08-10-nvda-amd-15pct-revenue-share",
        "announcement",
        "2025-08-11",
        "2025-08-12",
        "2025-08-12",
    ),
    # --- during the Asian session ----------------------------------------------------------
    # Busan: [11:00 KST, 10:23 Tehran = 15:53 KST] 10-30; placed at 12:00 KST = 11:00
    # Beijing = 23:00 EDT 10-29: XSHG/XHKG 10-30; XNAS 10-30.
    Case("us-cn-2025-10-30-busan-truce", "announcement", "2025-10-30", "2025-10-30", "2025-10-30"),
    # METI: [10:53, 11:20] JST 03-31 (press conference; Reuters 07:50 IST).  11:20 JST =
    # 10:20 Beijing -> XSHG/XHKG 03-31; = 22:20 EDT 03-30, after that close -> XNAS 03-31.
    Case(
        "meti-2023-03-31-chip-equipment-export-controls",
        "announcement",
        "2023-03-31",
        "2023-03-31",
        "2023-03-31",
    ),
    # Mate 60 Pro 'around noon' (SCMP): [11:00, 13:00] Beijing 08-29 -> XSHG/XHKG 08-29;
    # 00:00 EDT 08-29 -> XNAS 08-29.
    Case(
        "huawei-2023-08-29-mate-60-pro-launch",
        "announcement",
        "2023-08-29",
        "2023-08-29",
        "2023-08-29",
    ),
    # DeepSeek: [Fri 19:00 EST 01-24, 15:30 JST Mon 01-27] (NVDA 15-minute tape; Tokyo
    # chip stocks fell on Monday).  Placed at 01:30 EST 01-27 = 14:30 Beijing: XSHG 01-27
    # (last session before Lunar New Year; was 02-05), XHKG 01-27 (was 01-28), XNAS 01-27.
    Case(
        "deepseek-2025-01-27-r1-selloff", "announcement", "2025-01-27", "2025-01-27", "2025-01-27"
    ),
    # --- weekend -------------------------------------------------------------------------------
    # Osaka G20 press conference Sat 06-29 from 15:51 JST (White House transcript) = 02:51
    # EDT Sat: XNAS and XSHG Mon 07-01; XHKG Tue 07-02 (07-01 is a Hong Kong holiday).
    Case(
        "us-2019-06-29-trump-g20-huawei-sales-allowed",
        "announcement",
        "2019-07-01",
        "2019-07-01",
        "2019-07-02",
    ),
    # --- the affiliates-rule suspension now has its own official date ----------------------
    # BIS suspension rule issued/placed on public inspection Mon 2025-11-10 (Squire Patton
    # Boggs); time unknown, so 12:00 EST: XNAS 11-10; 01:00 Beijing 11-11 -> XSHG/XHKG
    # 11-11.  It no longer shares the Busan truce's day 0 (10-30).
    Case(
        "bis-2025-11-10-affiliates-rule-suspension",
        "filing",
        "2025-11-10",
        "2025-11-11",
        "2025-11-11",
    ),
]

# Every case above except the suspension (date-only, time not found) is pinned by its data.
NOT_PINNED = {"bis-2025-11-10-affiliates-rule-suspension"}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(ROOT / "events" / "export_controls.yaml", version=LOG_VERSION)


@pytest.fixture(scope="module")
def universe():
    return load_universe(ROOT / "events" / "universe.yaml")


def _day0(catalog, universe, event_id: str, unknown_time: str = "business_hours"):
    event = catalog.get(event_id)
    result = align(
        [event],
        universe,
        AlignSpec(
            stage="official", unknown_time=unknown_time, securities=SECURITIES, coverage="all"
        ),
    )
    inst = result.instances
    assert len(inst) == 3 and result.attrition.empty
    return {row.exchange: (row.stage, row.day0) for row in inst.itertuples()}


@pytest.mark.parametrize("case", CASES, ids=[c.event_id for c in CASES])
def test_curated_day0(catalog, universe, case: Case) -> None:
    got = _day0(catalog, universe, case.event_id)
    assert {ex: stage for ex, (stage, _) in got.items()} == dict.fromkeys(
        ("XNAS", "XSHG", "XHKG"), case.stage
    )
    assert got["XNAS"][1] == pd.Timestamp(case.xnas)
    assert got["XSHG"][1] == pd.Timestamp(case.xshg)
    assert got["XHKG"][1] == pd.Timestamp(case.xhkg)


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.event_id not in NOT_PINNED],
    ids=[c.event_id for c in CASES if c.event_id not in NOT_PINNED],
)
def test_curated_bounds_pin_day0(catalog, universe, case: Case) -> None:
    """The stage's own data decide day 0: any placement inside them gives the same sessions."""
    early = _day0(catalog, universe, case.event_id, "start_of_day")
    late = _day0(catalog, universe, case.event_id, "end_of_day")
    assert early == late == _day0(catalog, universe, case.event_id)


def test_suspension_no_longer_duplicates_busan(catalog) -> None:
    suspension = catalog.get("bis-2025-11-10-affiliates-rule-suspension")
    busan = catalog.get("us-cn-2025-10-30-busan-truce")
    assert suspension.official_stage().local_date.isoformat() == "2025-11-10"
    assert suspension.stage("announcement") is None
    assert busan.official_stage().local_date.isoformat() == "2025-10-30"


# --- Second curation pass (timing evidence for unpinned events) -------------------------
# These cases load the catalog at the log version written right after the second pass,
# v175:28b908c14586 (records 160-175 are its amend records), so later appends cannot change
# what is tested.  The cases above stay pinned to v155.
LOG_VERSION_PASS2 = "v175:28b908c14586"

CASES_PASS2 = [
    # Tariff-pause post: S&P 500 5-minute tape breaks in the 13:15 bar -> [13:10, 13:20] EDT.
    Case(
        "us-2025-04-09-reciprocal-tariff-pause",
        "announcement",
        "2025-04-09",
        "2025-04-10",
        "2025-04-10",
    ),
    # Geneva joint statement at 09:00 CEST = 15:00 Beijing (exact): the XSHG 05-12 close is
    # not strictly after it -> 05-13; XHKG (16:00) 05-12; XNAS 05-12 (03:00 EDT).
    Case(
        "us-cn-2025-05-12-geneva-tariff-truce",
        "announcement",
        "2025-05-12",
        "2025-05-13",
        "2025-05-12",
    ),
    # Bloomberg H20 notices: [16:00 EDT 08-11, 14:59 Beijing 08-12] -> all 08-12.
    Case("cn-2025-08-12-h20-avoidance-notices", "leak", "2025-08-12", "2025-08-12", "2025-08-12"),
    # Saturday MOFCOM probe, not before 04:00 Beijing Sat (= the Friday US close) -> Mon 09-15.
    Case(
        "mofcom-2025-09-13-analog-chip-antidumping",
        "announcement",
        "2025-09-15",
        "2025-09-15",
        "2025-09-15",
    ),
    # Qingming Friday: [15:00, 21:30] Beijing 04-04 -> XNAS 04-04; XSHG/XHKG closed -> 04-07.
    Case(
        "mofcom-2025-04-04-medium-heavy-rare-earth-controls",
        "announcement",
        "2025-04-04",
        "2025-04-07",
        "2025-04-07",
    ),
    # Minerals controls [13:01, 14:01] Beijing 02-04: XHKG 02-04; XSHG (Spring Festival) 02-05.
    Case(
        "mofcom-2025-02-04-tungsten-tellurium-bismuth-molybdenum-indium-controls",
        "announcement",
        "2025-02-04",
        "2025-02-05",
        "2025-02-04",
    ),
    # 1260H notice on public inspection [08:45, 15:59:59] EST 01-06 -> XNAS 01-06, Asia 01-07.
    Case(
        "dod-2025-01-06-1260h-list-adds-tencent-cxmt",
        "publication",
        "2025-01-06",
        "2025-01-07",
        "2025-01-07",
    ),
    # FT EDA report: SMH breaks vs QQQ at 15:10-15:20 EDT 05-28 -> XNAS 05-28, Asia 05-29.
    Case(
        "bis-2025-05-23-eda-licence-requirement", "leak", "2025-05-28", "2025-05-29", "2025-05-29"
    ),
    # FT customs report out by 11:45 IST = 14:15 Beijing 10-10 -> all 10-10.
    Case(
        "cn-2025-10-10-customs-nvidia-chip-crackdown",
        "leak",
        "2025-10-10",
        "2025-10-10",
        "2025-10-10",
    ),
    # Reuters data-centre exclusive [16:00, 19:25] Beijing 11-05 -> XNAS 11-05, Asia 11-06.
    Case(
        "cn-2025-11-05-state-funded-data-centre-foreign-chip-ban",
        "leak",
        "2025-11-05",
        "2025-11-06",
        "2025-11-06",
    ),
    # SAMR Qualcomm probe, dusk [16:00, 19:15] Beijing Fri 10-10 -> XNAS 10-10, Asia Mon 10-13.
    Case(
        "samr-2025-10-10-qualcomm-antitrust-probe",
        "announcement",
        "2025-10-10",
        "2025-10-13",
        "2025-10-13",
    ),
    # H200 rule after the US close on 01-13 (date-only, so before midnight EST) -> all 01-14.
    Case(
        "bis-2026-01-13-h200-case-by-case-rule",
        "announcement",
        "2026-01-14",
        "2026-01-14",
        "2026-01-14",
    ),
]

# Federal Register postings with only the OFR lower bound (08:45 ET): the Asian day 0 is
# pinned, New York is not (before or after the 16:00 close is unknown).
ASIA_ONLY_PASS2 = [
    ("bis-2025-08-29-veu-revocation-samsung-sk-hynix", "2025-09-01"),
    ("bis-2025-09-12-entity-list-smic-equipment-buyers", "2025-09-15"),
    ("bis-2025-11-10-affiliates-rule-suspension", "2025-11-11"),
]


@pytest.fixture(scope="module")
def catalog_pass2():
    return load_catalog(ROOT / "events" / "export_controls.yaml", version=LOG_VERSION_PASS2)


@pytest.mark.parametrize("case", CASES_PASS2, ids=[c.event_id for c in CASES_PASS2])
def test_curated_day0_pass2(catalog_pass2, universe, case: Case) -> None:
    """Day 0 at v175 equals the hand-checked sessions, and the stage's data pin it."""
    got = _day0(catalog_pass2, universe, case.event_id)
    assert {ex: stage for ex, (stage, _) in got.items()} == dict.fromkeys(
        ("XNAS", "XSHG", "XHKG"), case.stage
    )
    assert got["XNAS"][1] == pd.Timestamp(case.xnas)
    assert got["XSHG"][1] == pd.Timestamp(case.xshg)
    assert got["XHKG"][1] == pd.Timestamp(case.xhkg)
    early = _day0(catalog_pass2, universe, case.event_id, "start_of_day")
    late = _day0(catalog_pass2, universe, case.event_id, "end_of_day")
    assert early == late == got


@pytest.mark.parametrize("event_id,asia", ASIA_ONLY_PASS2, ids=[e for e, _ in ASIA_ONLY_PASS2])
def test_fr_postings_pin_asia_only_pass2(catalog_pass2, universe, event_id: str, asia: str) -> None:
    early = _day0(catalog_pass2, universe, event_id, "start_of_day")
    late = _day0(catalog_pass2, universe, event_id, "end_of_day")
    for ex in ("XSHG", "XHKG"):
        assert early[ex][1] == late[ex][1] == pd.Timestamp(asia)
    assert early["XNAS"][1] != late["XNAS"][1]  # New York still unresolved


def test_unpinned_events_pass2(catalog_pass2) -> None:
    """The audit figure at v175: 51 of 86 events pinned on every exchange.

    50 when stages were ordered at 12:00 UTC; ordering date-only stages at 12:00 in
    their own time zone lets the exact 08:45 ET public-inspection filing of the
    foundry rule (bis-2025-01-15) set day 0 ahead of its date-only press release.
    """
    from backtest.alignment.audit import audit_events

    table = audit_events(list(catalog_pass2.events))
    assert len(table) == 86
    assert int(table["pinned"].astype(bool).sum()) == 51
    row = table.set_index("event_id").loc["bis-2025-01-15-foundry-due-diligence-rule"]
    assert row["time_status"] == "exact" and bool(row["pinned"])
