"""VIN and number-plate validation, vectorized.

VIN (ISO 3779): 17 characters from A-Z and 0-9 without I, O and Q. ISO 3779 itself defines no
check digit; position 9 is a check digit only where the country of manufacture mandates it:
North America (49 CFR 565, WMI starting 1-5) and China (GB 16735, WMI starting L). European
and Brazilian manufacturers use position 9 freely, so for them only the format is checked
(a UK-market Hyundai built in Czechia, TMA..., has no check digit; a US-built BMW, 5UX..., has).

Number plates: the UK has four formats in use (current since 2001, prefix 1983-2001, suffix
1963-1983, dateless and Northern Ireland). Webmotors gives only `plate_final`, the plate's last
character(s), which in both Brazilian formats (LLLNNNN and Mercosul LLLNLNN) are digits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

VIN_PATTERN = r"[A-HJ-NPR-Z0-9]{17}"
VIN_ALPHABET_PATTERN = r"[A-Z0-9]*"
#: WMI first characters whose countries mandate the position-9 check digit.
CHECK_DIGIT_REGIONS = "12345L"
_WEIGHTS = np.array([8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2], dtype=np.int64)
_TRANSLITERATION = {
    **{str(d): d for d in range(10)},
    "A": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 6, "G": 7, "H": 8,
    "J": 1, "K": 2, "L": 3, "M": 4, "N": 5, "P": 7, "R": 9,
    "S": 2, "T": 3, "U": 4, "V": 5, "W": 6, "X": 7, "Y": 8, "Z": 9,
}
_VALUES = np.zeros(256, dtype=np.int64)
for _char, _value in _TRANSLITERATION.items():
    _VALUES[ord(_char)] = _value

UK_PLATE_FORMATS = {
    "current": r"[A-Z]{2}[0-9]{2}[A-Z]{3}",
    "prefix": r"[A-Z][0-9]{1,3}[A-Z]{3}",
    "suffix": r"[A-Z]{3}[0-9]{1,3}[A-Z]",
    "dateless": r"[0-9]{1,4}[A-Z]{1,3}|[A-Z]{1,3}[0-9]{1,4}",
}
UK_PLATE_PATTERN = "|".join(f"(?:{p})" for p in UK_PLATE_FORMATS.values())
BR_PLATE_PATTERN = r"[A-Z]{3}[0-9]{4}|[A-Z]{3}[0-9][A-Z][0-9]{2}"
BR_PLATE_FINAL_PATTERN = r"[0-9]{1,4}"


def clean_code(values: pd.Series) -> pd.Series:
    """Upper case without spaces or dashes: how plates and VINs are written varies, the code does not."""
    return values.astype("string").str.upper().str.replace(r"[\s\-]", "", regex=True)


def vin_check_digits(vins: pd.Series) -> np.ndarray:
    """The expected position-9 character ('0'-'9' or 'X') of well-formed 17-character VINs."""
    if vins.empty:
        return np.array([], dtype="<U1")
    raw = np.frombuffer("".join(vins.tolist()).encode("ascii"), dtype=np.uint8).reshape(len(vins), 17)
    remainder = (_VALUES[raw] @ _WEIGHTS) % 11
    return np.where(remainder == 10, "X", remainder.astype(str))


def vin_problems(vins: pd.Series) -> pd.Series:
    """Per VIN, why it is invalid (<NA> when valid or absent)."""
    vin = clean_code(vins)
    present = vin.notna() & (vin != "")
    problems = pd.Series(pd.NA, index=vins.index, dtype="string")
    wrong_length = present & (vin.str.len() != 17)
    problems[wrong_length] = "vin '" + vins[wrong_length] + "' has " + vin[wrong_length].str.len().astype(
        "string") + " characters, not 17"
    bad_chars = present & ~wrong_length & ~vin.str.fullmatch(VIN_ALPHABET_PATTERN).fillna(False)
    problems[bad_chars] = "vin '" + vins[bad_chars] + "' has characters other than A-Z and 0-9"
    ioq = present & ~wrong_length & ~bad_chars & vin.str.contains("[IOQ]", regex=True).fillna(False)
    problems[ioq] = "vin '" + vins[ioq] + "' contains I, O or Q (not allowed by ISO 3779)"
    well_formed = present & ~wrong_length & ~bad_chars & ~ioq
    mandated = well_formed & vin.str[0].isin(list(CHECK_DIGIT_REGIONS)).fillna(False)
    if mandated.any():
        candidates = vin[mandated]
        expected = pd.Series(vin_check_digits(candidates), index=candidates.index, dtype="string")
        actual = candidates.str[8]
        wrong = expected != actual
        idx = wrong[wrong].index
        problems[idx] = ("vin '" + vins[idx] + "' check digit (position 9) is '" + actual[idx] + "', expected '"
                         + expected[idx] + "' (mandatory for WMI region '" + candidates[idx].str[0] + "')")
    return problems


def _matches(values: pd.Series, pattern: str) -> pd.Series:
    return values.str.fullmatch(pattern).fillna(False).astype(bool)


def registration_problems(registrations: pd.Series, markets: pd.Series, plate_finals: pd.Series) -> pd.Series:
    """Per vehicle, why its plate is invalid for its market (<NA> when valid, absent or not checkable)."""
    reg = clean_code(registrations)
    final = clean_code(plate_finals)
    present = reg.notna() & (reg != "")
    problems = pd.Series(pd.NA, index=registrations.index, dtype="string")
    uk = (markets == "GB").fillna(False) & present
    uk_bad = uk & ~_matches(reg, UK_PLATE_PATTERN)
    problems[uk_bad] = ("registration '" + registrations[uk_bad]
                        + "' matches no UK format (current AB12CDE, prefix A123BCD, suffix ABC123D, dateless)")
    br = (markets == "BR").fillna(False)
    br_bad = br & present & ~_matches(reg, BR_PLATE_PATTERN)
    problems[br_bad] = ("registration '" + registrations[br_bad]
                        + "' matches no Brazilian format (ABC1234 or Mercosul ABC1D23)")
    final_present = br & final.notna() & (final != "")
    final_bad = final_present & ~_matches(final, BR_PLATE_FINAL_PATTERN)
    problems[final_bad] = "plate_final '" + plate_finals[final_bad] + "' is not the plate's final digit(s)"
    mismatch = final_present & ~final_bad & present & ~br_bad
    if mismatch.any():
        plates, finals = reg[mismatch], final[mismatch]
        ends = pd.Series([p.endswith(f) for p, f in zip(plates, finals, strict=True)], index=plates.index)
        idx = ends[~ends].index
        problems[idx] = ("registration '" + registrations[idx] + "' does not end with plate_final '"
                         + plate_finals[idx] + "'")
    return problems
