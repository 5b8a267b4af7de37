"""Generate the two sample PDFs in sample_docs/.

The sample corpus describes Tarnwick Marine Research Station, a fictional
organisation invented for this project. The text below is original.

Each PDF is laid out page by page: every entry of a document's ``pages`` list
becomes exactly one PDF page (the script fails if content overflows), so the
page numbers recorded in sample_docs/questions.jsonl stay valid. Output is
deterministic: fixed creation date (fpdf2 derives the /ID from content and
that date), core Helvetica font only, plain ASCII text.

Usage:  python scripts/make_sample_pdfs.py [output_dir]
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "sample_docs"
CREATED = datetime(2024, 6, 12, 9, 0, 0, tzinfo=UTC)

# Block kinds: ("title", text), ("subtitle", text), ("meta", text),
# ("h1", text), ("h2", text), ("p", text), ("bullets", [items]),
# ("table", caption, col_widths_mm, header, rows)

OPERATIONS_MANUAL = {
    "file": "operations-manual.pdf",
    "title": "Tarnwick Marine Research Station - Operations Manual",
    "subject": "Operations Manual, Revision 7",
    "author": "Calder Bight Oceanographic Trust",
    "running_head": "Tarnwick Marine Research Station - Operations Manual, Rev. 7",
    "pages": [
        # ---------------------------------------------------------- page 1
        [
            ("title", "Tarnwick Marine Research Station"),
            ("subtitle", "Operations Manual - Revision 7"),
            ("meta", "Issued by the Calder Bight Oceanographic Trust. Effective 1 March 2024. "
                     "Document owner: Station Manager."),
            ("h1", "1 Overview"),
            ("h2", "1.1 Purpose of this manual"),
            ("p", "Tarnwick Marine Research Station stands on the sheltered north shore of Tarnwick "
                  "Island, 38 km across open water from the mainland harbour town of Ellesby. The "
                  "Calder Bight Oceanographic Trust owns the station and funds its long-term "
                  "monitoring of the bight. This manual explains how the station is run from day to "
                  "day: power and water, small boats and diving, communications and emergencies. It "
                  "applies to every resident, whether staff, visiting scientist or contractor."),
            ("p", "The manual assumes that the reader has already completed the arrival steps and "
                  "the site induction described in the Onboarding Guide. Technical details of the "
                  "offshore buoys and their instruments are kept in the Buoy Array Equipment "
                  "Specification and are not repeated here. Where this manual and a verbal "
                  "instruction disagree, follow the manual and raise the conflict at the next "
                  "weekly station meeting."),
            ("h2", "1.2 Roles and responsibilities"),
            ("p", "The Station Manager has overall authority for people, safety and science "
                  "priorities on the island. Day-to-day control passes to the Station Duty Officer "
                  "(SDO), a role that rotates weekly among trained residents. The SDO holds the duty "
                  "radio, approves and tracks every boat departure, keeps the station log, declares "
                  "weather holds and is the first point of contact outside working hours. The duty "
                  "week changes over at 09:00 each Monday, after a short handover in the operations "
                  "room."),
            ("p", "Specialist roles are fixed rather than rotating. Their holders and radio call "
                  "signs are listed in Table 1."),
            ("table", "Table 1 - Station roles and radio call signs", (60, 60, 50),
             ("Role", "Holder", "Call sign"),
             [
                 ("Station Manager", "Dr. Maren Oakhurst", "TARNWICK ONE"),
                 ("Station Engineer", "Hal Drummond", "TARNWICK SPARKS"),
                 ("Small Boat Coordinator", "Tobias Rennick", "TARNWICK BOATS"),
                 ("Dive Safety Officer", "Priya Anselm", "TARNWICK DIVE"),
                 ("Data Manager", "Yusuf Kellaway", "none assigned"),
                 ("SDO (weekly rotation)", "see roster in station log", "TARNWICK DUTY"),
             ]),
            ("p", "Anyone may stop an activity they believe to be unsafe. Stopping work is never a "
                  "disciplinary matter; failing to report an unsafe act may be."),
        ],
        # ---------------------------------------------------------- page 2
        [
            ("h1", "2 Power and utilities"),
            ("h2", "2.1 Generators and quiet hours"),
            ("p", "Electrical power comes from two diesel generators, labelled G1 and G2, backed by "
                  "a 48 kWh lithium battery bank that is charged by a rooftop array of 24 solar "
                  "panels. Only one generator is on duty at a time. To even out running hours, G1 "
                  "is the duty generator in odd-numbered calendar weeks and G2 in even-numbered "
                  "weeks."),
            ("p", "Quiet hours run from 22:00 to 06:00. During quiet hours the duty generator is "
                  "switched off and the station runs from the battery bank alone. If the battery "
                  "state of charge falls to 30 percent, the duty generator starts automatically and "
                  "runs until the bank reaches 80 percent. Residents should not run tumble dryers, "
                  "the workshop compressor or other heavy loads during quiet hours."),
            ("p", "Each generator receives an oil and filter service every 250 running hours. The "
                  "Station Engineer records every service in the maintenance log under its work "
                  "order number."),
            ("h2", "2.2 Storage limits"),
            ("p", "Table 2 lists the storage capacity for each consumable, the emergency reserve "
                  "that must never be used except in a declared emergency, and the level at which "
                  "a resupply order must be placed."),
            ("table", "Table 2 - Storage capacities and resupply triggers", (44, 38, 42, 46),
             ("Consumable", "Capacity", "Emergency reserve", "Order resupply at"),
             [
                 ("Diesel fuel", "42,000 litres", "8,000 litres", "15,000 litres"),
                 ("Potable water", "18,000 litres", "4,000 litres", "9,000 litres"),
                 ("Grey water tank", "6,500 litres", "not applicable", "pump out at 5,000 litres"),
                 ("Kitchen propane", "12 cylinders", "3 cylinders", "5 cylinders"),
                 ("Lubricating oil", "400 litres", "60 litres", "150 litres"),
             ]),
            ("p", "Only the Station Manager may declare an emergency that releases a reserve. "
                  "Supplies arrive on the chartered supply vessel MV Gannet Rock, which normally "
                  "sails from Ellesby every third Thursday. The SDO must place each order at least "
                  "10 days before the sailing date, using the order sheet in the operations room."),
            ("h2", "2.3 Water production"),
            ("p", "A reverse-osmosis desalination unit in the pump house produces up to 2,400 litres "
                  "of potable water per day. The SDO flushes the membrane every Sunday. When the "
                  "potable tank is less than half full, showers are limited to four minutes and "
                  "laundry is restricted to full loads."),
        ],
        # ---------------------------------------------------------- page 3
        [
            ("h1", "3 Field operations"),
            ("h2", "3.1 Small boat launches"),
            ("p", "The station operates two rigid inflatable boats (RIBs), named Skua and Tern, from "
                  "the slipway below the boat shed. No boat leaves without a float plan filed with "
                  "the SDO, listing the crew, destination, planned work and expected time of "
                  "return. The minimum crew is two people, and at least one of them must hold the "
                  "Trust's coxswain endorsement."),
            ("p", "Every person aboard wears an inflatable lifejacket and carries a Personal Locator "
                  "Beacon (PLB) clipped to the lifejacket harness. Launches are also subject to the "
                  "weather holds in Section 3.3. If a boat fails to return on time, the SDO follows "
                  "the overdue-vessel procedure in Section 5.2."),
            ("h2", "3.2 Dive operations"),
            ("p", "All diving from the station follows the Trust's diving code and must be approved "
                  "by the Dive Safety Officer, who reviews each written dive plan on the evening "
                  "before the dive. The following limits apply to every station dive:"),
            ("bullets", [
                "maximum depth 30 metres, with no planned decompression stops;",
                "maximum bottom time on a single dive 40 minutes;",
                "no more than two dives per diver in any calendar day;",
                "a fully kitted standby diver on the surface throughout each dive.",
            ]),
            ("p", "Divers working on buoy moorings must also follow the boarding and inspection "
                  "rules in the Buoy Array Equipment Specification."),
            ("h2", "3.3 Weather holds"),
            ("p", "The SDO declares a weather hold whenever any threshold in Table 3 is exceeded at "
                  "the Tarnwick Point weather mast. A hold stays in force until readings have been "
                  "below every threshold for at least one hour. Each hold is written in the station "
                  "log with the time of the observation."),
            ("table", "Table 3 - Weather hold thresholds", (52, 50, 68),
             ("Condition", "Threshold", "Action"),
             [
                 ("Sustained wind", "above 22 knots", "No boat launches"),
                 ("Significant wave height", "above 1.8 m", "No boat launches"),
                 ("Visibility", "below 500 m", "Boats at sea return to station"),
                 ("Lightning", "strike within 10 km", "Divers leave the water at once"),
                 ("Air temperature", "below -5 C", "Outdoor work in pairs only"),
             ]),
        ],
        # ---------------------------------------------------------- page 4
        [
            ("h1", "4 Communications"),
            ("h2", "4.1 Radio schedule"),
            ("p", "The station working channel is VHF channel 72. The SDO carries the duty handheld "
                  "on channel 72 at all times and also monitors channel 16 on the base set in the "
                  "operations room. Boats at sea call the station on channel 72 every 60 minutes "
                  "with their position and status. A scheduled radio call with the Trust office in "
                  "Ellesby takes place at 08:30 and 17:30 each day."),
            ("h2", "4.2 Data uplink"),
            ("p", "Internet access and science data transfer share a single satellite terminal. "
                  "Transfers run in scheduled windows controlled by the file "
                  "/etc/tarnwick/uplink.conf. The key uplink_window_min sets the length of each "
                  "window in minutes and defaults to 20. The key uplink_slots lists the start times "
                  "of the windows, by default 02:00, 10:00 and 18:00. Do not raise "
                  "uplink_window_min above 45 without the Data Manager's approval: the terminal "
                  "draws heavily on the battery bank, and the 02:00 window falls within quiet hours "
                  "(see Section 2.1)."),
            ("p", "Personal internet use is capped at 500 MB per person per week. Data from each "
                  "RTU take priority over personal traffic in every window."),
            ("h1", "5 Emergency procedures"),
            ("h2", "5.1 Alarms and muster"),
            ("p", "A continuous bell means fire; an intermittent bell means a medical emergency or "
                  "another incident. On a fire alarm, everyone goes to the muster point at the boat "
                  "shed, on the slipway side of the main building. The SDO takes a headcount "
                  "against the station log and reports to the Station Manager within 10 minutes of "
                  "the alarm."),
            ("h2", "5.2 Overdue vessel"),
            ("p", "A boat becomes overdue 30 minutes after the return time on its float plan. The "
                  "SDO then calls the boat on channels 72 and 16 for 15 minutes. If there is no "
                  "reply, the SDO alerts Ellesby Coastguard, passes on the float plan details and "
                  "informs the Station Manager. The second RIB may be launched to search only with "
                  "the Station Manager's approval and within the weather limits of Section 3.3."),
            ("h2", "5.3 Medical support"),
            ("p", "Trained first aiders are listed on the operations room noticeboard. The nearest "
                  "hospital is in Ellesby. A medical evacuation by helicopter typically takes 70 "
                  "minutes from the first call to arrival at the island helipad."),
        ],
    ],
}

EQUIPMENT_SPEC = {
    "file": "buoy-equipment-specification.pdf",
    "title": "Offshore Buoy Array - Equipment Specification and Safety Report",
    "subject": "Document TMRS-ES-012, revision C",
    "author": "Tarnwick Marine Research Station",
    "running_head": "TMRS-ES-012 rev. C - Buoy Array Equipment Specification",
    "pages": [
        # ---------------------------------------------------------- page 1
        [
            ("title", "Offshore Buoy Array"),
            ("subtitle", "Equipment Specification and Safety Report"),
            ("meta", "Document TMRS-ES-012, revision C. Prepared by Hal Drummond, Station Engineer. "
                     "Approved by Dr. Maren Oakhurst on 12 June 2024."),
            ("h1", "1 Scope"),
            ("p", "This document specifies the moored buoys that Tarnwick Marine Research Station "
                  "maintains in Calder Bight: their hulls and moorings (Section 2), their instrument "
                  "payload (Section 3), their power supply (Section 4) and the hazards of servicing "
                  "them (Section 5). Inspection intervals are given in Section 6. The rules for "
                  "launching boats and for diving are set by the Operations Manual and apply in "
                  "full to all buoy work; this document adds only the limits specific to the buoys."),
            ("p", "Revision C follows the loss of position of buoy B3 in February 2024, described in "
                  "incident report IR-2024-031. The changes from revision B are the shackle "
                  "securing rule in Section 2.2 and the diver shackle check added to Table 6."),
            ("h2", "1.1 Buoy locations"),
            ("p", "The array consists of three buoys. Positions are given in degrees and decimal "
                  "minutes on the WGS 84 datum."),
            ("table", "Table 1 - Buoy positions and deployment dates", (22, 36, 38, 34, 40),
             ("Buoy", "Latitude", "Longitude", "Water depth", "Deployed"),
             [
                 ("B1", "58 12.40 N", "004 55.10 W", "42 m", "14 May 2022"),
                 ("B2", "58 14.85 N", "004 52.60 W", "61 m", "14 May 2022"),
                 ("B3", "58 17.20 N", "004 49.95 W", "78 m", "2 August 2023"),
             ]),
            ("p", "B1 sits closest to the island, roughly 4 km from the slipway. B3 is the furthest "
                  "out, roughly 9 km, and is the only buoy in water deep enough to show seasonal "
                  "stratification."),
            ("h1", "2 Buoy hull and mooring"),
            ("h2", "2.1 Hull"),
            ("p", "Each buoy uses a foam-filled polyethylene hull 2.1 m in diameter, with a "
                  "galvanised steel tower rising 3.4 m above the waterline. The hull mass is 610 kg "
                  "in air without instruments. Hulls are painted yellow as special marks and carry "
                  "a yellow light flashing five times every 20 seconds, with a radar reflector at "
                  "the top of the tower."),
        ],
        # ---------------------------------------------------------- page 2
        [
            ("h2", "2.2 Mooring"),
            ("p", "The buoys use a single-point slack mooring. From the seabed up, each mooring "
                  "consists of a 1,200 kg cast-iron clump anchor, 15 m of 22 mm galvanised ground "
                  "chain, a stainless swivel (part number TMR-2210) and a nylon riser rope cut to "
                  "give a scope of about 1.6 times the water depth. The riser is joined to the buoy "
                  "bridle with a 19 mm galvanised bow shackle, part number TMR-2207, with a working "
                  "load limit of 4.75 tonnes."),
            ("p", "Since revision C, every shackle pin on a mooring must be secured with stainless "
                  "mousing wire and a cable tie of a contrasting colour, so that a missing seizing "
                  "can be seen by a diver at a glance."),
            ("h1", "3 Sensor payload"),
            ("p", "Each buoy carries a Remote Telemetry Unit (RTU), a sealed logger that collects "
                  "readings from every instrument, stores them on board and sends them to the "
                  "station by UHF radio. The core instrument on every buoy is a CTD (conductivity, "
                  "temperature and depth) sensor mounted 1 m below the surface. Buoys B2 and B3 "
                  "also carry an Acoustic Doppler Current Profiler (ADCP), looking downward from "
                  "the hull to measure currents through the water column. Table 3 lists the full "
                  "payload."),
            ("table", "Table 3 - Instrument payload", (44, 34, 34, 58),
             ("Item", "Part number", "Fitted on", "Sampling interval"),
             [
                 ("RTU logger", "TMR-3300", "B1, B2, B3", "set in rtu.cfg (Section 3.1)"),
                 ("CTD sensor", "TMR-4471", "B1, B2, B3", "set in rtu.cfg (Section 3.1)"),
                 ("ADCP", "TMR-4480", "B2, B3", "20 min"),
                 ("Weather station", "TMR-4502", "B1, B2, B3", "1 min"),
                 ("Oxygen optode", "TMR-4515", "B3 only", "15 min"),
                 ("Fluorometer", "TMR-4520", "B1 only", "15 min"),
             ]),
            ("p", "The RTU keeps 90 days of readings in internal memory, so a radio outage loses no "
                  "data as long as the buoy is visited within that period. Spare sensors are held "
                  "in the workshop store and are ordered by part number only."),
        ],
        # ---------------------------------------------------------- page 3
        [
            ("h2", "3.1 RTU configuration"),
            ("p", "Each RTU reads its settings at start-up from the file rtu.cfg on its internal "
                  "memory card. The settings that matter for field work are:"),
            ("bullets", [
                "sample_interval_s - how often the CTD is read, in seconds (default 300);",
                "tx_interval_s - how often data are sent to the station, in seconds (default 600);",
                "low_batt_cutoff_v - the battery voltage below which the RTU stops radio "
                "transmission and only logs to memory (default 11.6 V);",
                "gps_fix_interval_s - how often the buoy position is checked, in seconds "
                "(default 900).",
            ]),
            ("p", "At the issue of this revision all RTUs run firmware 2.4.1. The geofence settings "
                  "added after the B3 incident are described in IR-2024-031. Every change to "
                  "rtu.cfg must be entered in the maintenance log, and the file must be copied back "
                  "to the station server after each edit."),
            ("h1", "4 Power system"),
            ("p", "Each buoy is powered by two 100 W solar panels on the tower and a 12.8 V, 200 Ah "
                  "lithium iron phosphate battery in the hull well. A charge controller protects "
                  "the battery from over-charge. With all instruments running, a fully charged "
                  "battery keeps a buoy working for 9 days with no solar input, which covers the "
                  "longest overcast spell recorded in the bight during winter."),
            ("table", "Table 4 - Average power draw per instrument", (90, 50),
             ("Item", "Average draw"),
             [
                 ("RTU logger and radio", "1.2 W"),
                 ("CTD sensor", "0.4 W"),
                 ("ADCP", "3.1 W"),
                 ("Weather station", "0.6 W"),
                 ("Oxygen optode", "0.2 W"),
                 ("Fluorometer", "0.5 W"),
                 ("Navigation light", "0.9 W"),
             ]),
            ("p", "The ADCP is by far the largest load. On B2 and B3 it can be switched to a reduced "
                  "ping rate in winter to stretch the time the buoy can run without sun."),
        ],
        # ---------------------------------------------------------- page 4
        [
            ("h1", "5 Safety assessment"),
            ("p", "Servicing a buoy means boarding it from a RIB in open water, the highest-risk "
                  "routine task at the station. Table 5 lists the main hazards, their rating before "
                  "controls and the controls required. With the controls in place, the residual "
                  "risk of buoy servicing is assessed as medium."),
            ("table", "Table 5 - Hazards of buoy servicing", (58, 22, 90),
             ("Hazard", "Rating", "Required control"),
             [
                 ("Fall between boat and buoy", "High", "Harness clipped to tower before stepping across"),
                 ("Crush between RIB and hull", "High", "RIB stands off while crew is on the buoy"),
                 ("Entanglement in riser rope", "Medium", "Rescue knife carried by every crew member"),
                 ("Battery gas release", "Low", "Ventilate hull well 10 minutes before opening"),
                 ("Sharp fouling on hull", "Medium", "Cut-resistant gloves"),
             ]),
            ("h2", "5.1 Boarding limit"),
            ("p", "No one may step from a RIB onto a buoy when the significant wave height at the "
                  "buoy exceeds 0.8 m, even if conditions are inside the launch limits of the "
                  "Operations Manual. The coxswain makes the final decision at the buoy, and a crew "
                  "may travel out, assess conditions and return without boarding."),
            ("h1", "6 Inspection intervals"),
            ("table", "Table 6 - Inspection and replacement schedule", (78, 40, 52),
             ("Task", "Interval", "Done by"),
             [
                 ("Visual check from a RIB", "monthly", "Boat crew"),
                 ("Sensor cleaning (biofouling)", "every 6 weeks", "Boat crew"),
                 ("Shackle and mousing check", "every 6 months", "Divers"),
                 ("CTD calibration exchange", "every 12 months", "Station Engineer"),
                 ("Riser rope replacement", "every 24 months", "Engineer and divers"),
             ]),
            ("p", "The Station Engineer may shorten any interval but never lengthen it. Every "
                  "inspection is recorded in the maintenance log against its work order."),
        ],
    ],
}

DOCUMENTS = (OPERATIONS_MANUAL, EQUIPMENT_SPEC)


class SampleDoc(FPDF):
    def __init__(self, running_head: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.running_head = running_head
        self.set_margins(20, 18, 20)
        self.set_auto_page_break(auto=True, margin=18)

    def header(self) -> None:
        self.set_font("Helvetica", "I", 8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, self.running_head, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
        self.ln(3)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font("Helvetica", "I", 8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def _render_block(pdf: SampleDoc, block: tuple) -> None:
    kind = block[0]
    if kind == "title":
        pdf.set_font("Helvetica", "B", 18)
        pdf.multi_cell(0, 9, block[1], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    elif kind == "subtitle":
        pdf.set_font("Helvetica", "", 13)
        pdf.multi_cell(0, 7, block[1], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)
    elif kind == "meta":
        pdf.set_font("Helvetica", "I", 9)
        pdf.multi_cell(0, 5, block[1], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)
    elif kind == "h1":
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 13)
        pdf.multi_cell(0, 7, block[1], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)
    elif kind == "h2":
        pdf.ln(1)
        pdf.set_font("Helvetica", "B", 11)
        pdf.multi_cell(0, 6, block[1], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    elif kind == "p":
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(0, 5, block[1], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)
    elif kind == "bullets":
        pdf.set_font("Helvetica", "", 10)
        for item in block[1]:
            pdf.set_x(pdf.l_margin + 4)
            pdf.multi_cell(0, 5, "- " + item, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)
    elif kind == "table":
        _, caption, widths, header, rows = block
        pdf.set_font("Helvetica", "B", 9)
        pdf.multi_cell(0, 5, caption, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)
        pdf.set_font("Helvetica", "", 9)
        with pdf.table(
            col_widths=widths,
            width=sum(widths),
            align="LEFT",
            text_align="LEFT",
            line_height=5,
            first_row_as_headings=True,
        ) as table:
            for row in (header, *rows):
                tr = table.row()
                for value in row:
                    tr.cell(value)
        pdf.ln(3)
    else:  # pragma: no cover - programming error
        raise ValueError(f"unknown block kind {kind!r}")


def _check_ascii(doc: dict) -> None:
    for page in doc["pages"]:
        for block in page:
            for part in block[1:]:
                for text in _flatten(part):
                    text.encode("ascii")  # plain ASCII keeps extraction predictable


def _flatten(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _flatten(item)


def build(doc: dict, out_dir: Path) -> Path:
    _check_ascii(doc)
    pdf = SampleDoc(doc["running_head"])
    pdf.set_title(doc["title"])
    pdf.set_subject(doc["subject"])
    pdf.set_author(doc["author"])
    pdf.set_creator("scripts/make_sample_pdfs.py")
    pdf.set_producer("situated-rag sample corpus")
    pdf.set_creation_date(CREATED)
    for number, page in enumerate(doc["pages"], start=1):
        pdf.add_page()
        for block in page:
            _render_block(pdf, block)
        if pdf.page_no() != number:
            raise RuntimeError(
                f"{doc['file']}: content of page {number} overflowed onto page {pdf.page_no()}"
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / doc["file"]
    pdf.output(str(path))
    return path


def main(argv: list[str]) -> int:
    out_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    for doc in DOCUMENTS:
        path = build(doc, out_dir)
        print(f"wrote {path} ({len(doc['pages'])} pages)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
