"""Reference magnesium intakes for a user's profile (magnesium.md).

US NIH / Institute of Medicine RDA, mg/day, by age band, sex and pregnancy/lactation; the
tolerable upper intake level applies to *supplemental* magnesium only. Without a profile
both adult figures are shown rather than guessing.
"""

from __future__ import annotations

from reports.model import ReferenceIntake

# (first age of band, last age of band) → (male, female, pregnancy, lactation); None = n/a
RDA_MG_PER_DAY: dict[tuple[int, int], tuple[int, int, int | None, int | None]] = {
    (1, 3): (80, 80, None, None),
    (4, 8): (130, 130, None, None),
    (9, 13): (240, 240, None, None),
    (14, 18): (410, 360, 400, 360),
    (19, 30): (400, 310, 350, 310),
    (31, 50): (420, 320, 360, 320),
    (51, 200): (420, 320, None, None),
}
ADULTS_WITHOUT_PROFILE = (
    ReferenceIntake("Adult men 31+ (US RDA)", 420.0),
    ReferenceIntake("Adult women 31+ (US RDA)", 320.0),
)


def supplement_upper_level_mg(age: int | None) -> float:
    """Tolerable upper intake level for supplemental magnesium (IOM): 65 mg at 1–3 years,
    110 mg at 4–8, 350 mg from 9 (adults when the age is unknown)."""
    if age is not None and age <= 3:
        return 65.0
    if age is not None and age <= 8:
        return 110.0
    return 350.0


def reference_intakes(age: int | None, sex: str | None,
                      life_stage: str | None) -> tuple[ReferenceIntake, ...]:
    """The RDA for the profile, or both adult figures when age or sex is not given."""
    if age is None or sex is None:
        return ADULTS_WITHOUT_PROFILE
    (low, high), figures = next((band, f) for band, f in RDA_MG_PER_DAY.items()
                                if band[0] <= age <= band[1])
    male, female, pregnancy, lactation = figures
    band = f"{low}+" if high >= 200 else f"{low}–{high}"
    if sex == "female" and life_stage == "pregnancy" and pregnancy is not None:
        return (ReferenceIntake(f"Pregnancy, {band} years (US RDA)", float(pregnancy)),)
    if sex == "female" and life_stage == "lactation" and lactation is not None:
        return (ReferenceIntake(f"Lactation, {band} years (US RDA)", float(lactation)),)
    value, who = (male, "Men") if sex == "male" else (female, "Women")
    return (ReferenceIntake(f"{who} {band} years (US RDA)", float(value)),)
