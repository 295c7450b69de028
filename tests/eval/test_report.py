from __future__ import annotations

from psionic.eval.report import _pieces_in_order


def test_an_answer_with_its_tool_call_cut_out_is_still_the_bound_output() -> None:
    text = 'Sure:\n<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>\n\nDone.\n'
    assert _pieces_in_order("Sure:\n\n\nDone.", text)
    assert not _pieces_in_order("Done.\nSure:", text)  # out of order
    assert not _pieces_in_order("Sure, done.", text)
    assert _pieces_in_order("", text)
