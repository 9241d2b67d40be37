"""Generators schemathesis needs for what a JSON schema cannot state.

Loaded by `scripts/schemathesis` (SCHEMATHESIS_HOOKS). The OpenAPI document
gives each fiscal code the pattern of its layout and the format
`fiscal-code` for the rest of I1 (the day exists in its month, the check
character); a PDF body is a file that parses as one (M6). Generated data
that meets the schema must meet these too, or a request the document calls
valid would be refused for a reason the document states in words only.
"""

import os

import schemathesis
from hypothesis import strategies as st

MONTHS = "ABCDEHLMPRST"
DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
OMOCODIA = "LMNPQRSTUV"
# Omocodia replaces the digits from the right (Agenzia delle Entrate).
DIGIT_POSITIONS_FROM_RIGHT = [14, 13, 12, 10, 9, 7, 6]
ODD_VALUES = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16,
              10, 22, 25, 24, 23]


def check_character(body: str) -> str:
    """I1: the check character of 15 upper-case characters."""
    total = 0
    for i, c in enumerate(body):
        value = ord(c) - ord("0") if c.isdigit() else ord(c) - ord("A")
        total += ODD_VALUES[value] if i % 2 == 0 else value
    return chr(ord("A") + total % 26)


@st.composite
def fiscal_codes(draw) -> str:
    letter = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    month = draw(st.integers(0, 11))
    day = draw(st.integers(1, DAYS_IN_MONTH[month])) + draw(st.sampled_from([0, 40]))
    body = list(
        "".join(draw(st.lists(letter, min_size=6, max_size=6)))
        + f"{draw(st.integers(0, 99)):02d}"
        + MONTHS[month]
        + f"{day:02d}"
        + draw(letter)
        + f"{draw(st.integers(0, 999)):03d}"
    )
    for position in DIGIT_POSITIONS_FROM_RIGHT[: draw(st.integers(0, 7))]:
        body[position] = OMOCODIA[int(body[position])]
    code = "".join(body) + check_character("".join(body))
    return code.lower() if draw(st.integers(0, 9)) == 0 else code


# The callers' own codes come up often, so that their records are reached.
KNOWN = [c for c in os.environ.get("DELEGHE_ST_FISCAL_CODES", "").split(",") if c]
schemathesis.openapi.format(
    "fiscal-code",
    st.one_of(st.sampled_from(KNOWN), fiscal_codes()) if KNOWN else fiscal_codes(),
)


def pdf(pages: int) -> bytes:
    """A PDF of `pages` blank pages, with its cross-reference table."""
    kids = " ".join(f"{3 + i} 0 R" for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
    ] + [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"] * pages
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


schemathesis.openapi.media_type("application/pdf", st.integers(1, 3).map(pdf))
