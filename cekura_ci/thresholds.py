"""Pure: the one rule for reaching a percentage threshold, shared by the verdict and the comparison."""

from __future__ import annotations

from fractions import Fraction


def reaches(passed: int, counted: int, threshold: float) -> bool:
    """passed / counted ≥ threshold %, compared exactly (2/3 does not reach 66.67%); rounding is
    for display only. Nothing counted reaches nothing."""
    return counted > 0 and 100 * passed >= Fraction(str(threshold)) * counted
