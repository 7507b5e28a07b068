"""Per-operation table of what the fuzzer's cases got back (rows written by tally.py).

"accepted" counts schema-valid (positive) cases answered 2xx: an operation whose valid
cases are mostly refused is barely fuzzed past its validation, whatever the case count.
"""

from __future__ import annotations

from collections import Counter, defaultdict

Row = tuple[str, str, str, int, str, int]  # operation, phase, mode, status, code, count


def table(rows: list[Row]) -> str:
    positive: dict[str, Counter[str]] = defaultdict(Counter)
    negative: Counter[str] = Counter()
    for operation, _phase, mode, status, code, count in rows:
        if mode == "negative":
            negative[operation] += count
        else:
            outcome = "2xx" if 200 <= status < 300 else f"{status} {code}".strip()
            positive[operation][outcome] += count
    lines = [f"{'operation':<44} {'valid':>6} {'2xx':>6} {'invalid':>7}  refusals of valid cases"]
    for operation in sorted(set(positive) | set(negative)):
        outcomes = positive[operation]
        refusals = ", ".join(
            f"{outcome}: {n}" for outcome, n in outcomes.most_common() if outcome != "2xx"
        )
        lines.append(
            f"{operation:<44} {sum(outcomes.values()):>6} {outcomes['2xx']:>6}"
            f" {negative[operation]:>7}  {refusals}"
        )
    total = sum(row[-1] for row in rows)
    lines.append(f"{'all calls':<44} {total:>6}")
    return "\n".join(lines)
