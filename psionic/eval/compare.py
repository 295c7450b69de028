"""Pair two reports of the same package sample by sample, and say whether they differ significantly.

Samples pair by key (task and repeat). Binary outcomes get the exact McNemar
test (the discordant pairs are fair coin flips under the null); scores get
the sign test over non-zero differences and a seeded bootstrap interval of the
mean difference. Reports of different package content do not compare.
"""

from __future__ import annotations

from typing import Any

from psionic.eval.errors import IncomparableReports
from psionic.eval.stats import binomial_two_sided, bootstrap_ci

ALPHA = 0.05


def _answer_key(record: dict[str, Any]) -> str:
    return str(record.get("answer"))


def compare_reports(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    pa, pb = a["run"]["package"], b["run"]["package"]
    if pa["digest"] != pb["digest"]:
        raise IncomparableReports(f"the reports ran different package content: {pa['name']}@{pa['version']} "
                                  f"{pa['digest'][:19]}... vs {pb['name']}@{pb['version']} {pb['digest'][:19]}...")
    sa = {r["key"]: r for r in a["samples"] if r["status"] == "scored"}
    sb = {r["key"]: r for r in b["samples"] if r["status"] == "scored"}
    keys = [k for k in sa if k in sb]
    rows = []
    for k in keys:
        ra, rb = sa[k], sb[k]
        va, vb = ra["score"]["value"], rb["score"]["value"]
        rows.append({"key": k, "a": va, "b": vb, "diff": round(vb - va, 6),
                     "passed_a": ra["score"]["passed"], "passed_b": rb["score"]["passed"],
                     "same_answer": _answer_key(ra) == _answer_key(rb),
                     "detail_a": ra["score"]["detail"], "detail_b": rb["score"]["detail"]})
    only_b_passed = sum(1 for r in rows if r["passed_b"] and not r["passed_a"])
    only_a_passed = sum(1 for r in rows if r["passed_a"] and not r["passed_b"])
    better = sum(1 for r in rows if r["diff"] > 0)
    worse = sum(1 for r in rows if r["diff"] < 0)
    diffs = [r["diff"] for r in rows]
    mcnemar = binomial_two_sided(only_b_passed, only_a_passed + only_b_passed)
    sign = binomial_two_sided(better, better + worse)
    ci = bootstrap_ci(diffs) if diffs else None
    mean_a = sum(r["a"] for r in rows) / len(rows) if rows else None
    mean_b = sum(r["b"] for r in rows) / len(rows) if rows else None
    out = {
        "a": {"report": a["digest"], "subject": a["run"]["subject"], "mean_score": mean_a},
        "b": {"report": b["digest"], "subject": b["run"]["subject"], "mean_score": mean_b},
        "package": pa, "paired": len(rows),
        "unpaired": sorted(set(sa) ^ set(sb)),
        "identical_answers": sum(r["same_answer"] for r in rows),
        "mean_diff": round(sum(diffs) / len(diffs), 6) if diffs else None,
        "mean_diff_ci95_bootstrap": [round(x, 6) for x in ci] if ci else None,
        "b_better": better, "b_worse": worse, "ties": len(rows) - better - worse,
        "mcnemar": {"only_a_passed": only_a_passed, "only_b_passed": only_b_passed, "p": round(mcnemar, 6)},
        "sign_test_p": round(sign, 6),
        "rows": rows,
    }
    out["note"] = significance_note(out)
    return out


def significance_note(c: dict[str, Any]) -> str:
    if not c["paired"]:
        return "no sample scored in both reports: nothing to compare"
    if c["b_better"] == c["b_worse"] == 0:
        same = "with identical answers" if c["identical_answers"] == c["paired"] else "with equal scores"
        return f"no difference: all {c['paired']} paired samples score the same ({same})"
    p = min(c["mcnemar"]["p"], c["sign_test_p"])
    verdict = "significant" if p < ALPHA else "not significant"
    return (f"B differs from A on {c['b_better'] + c['b_worse']} of {c['paired']} paired samples "
            f"(better {c['b_better']}, worse {c['b_worse']}); mean difference {c['mean_diff']:+.4f}; "
            f"exact McNemar p = {c['mcnemar']['p']:.4g}, sign test p = {c['sign_test_p']:.4g}: {verdict} at {ALPHA}")


def markdown(c: dict[str, Any]) -> str:
    lines = [f"# Compare: {c['package']['name']}@{c['package']['version']}", "",
             f"- A: `{c['a']['subject']['model']}` at {c['a']['subject']['endpoint']} (report `{c['a']['report'][:19]}...`), mean {c['a']['mean_score']}",
             f"- B: `{c['b']['subject']['model']}` at {c['b']['subject']['endpoint']} (report `{c['b']['report'][:19]}...`), mean {c['b']['mean_score']}",
             f"- paired samples {c['paired']}, unpaired {len(c['unpaired'])}, identical answers {c['identical_answers']}",
             f"- {c['note']}", "", "| sample | A | B | diff | A detail | B detail |", "|---|---|---|---|---|---|"]
    for r in c["rows"]:
        if r["diff"] != 0 or not r["same_answer"]:
            lines.append(f"| {r['key']} | {r['a']:.2f} | {r['b']:.2f} | {r['diff']:+.2f} | {r['detail_a']} | {r['detail_b']} |")
    return "\n".join(lines) + "\n"
