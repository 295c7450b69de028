"""The model card: generated from the compiler, embedded in the doc, explaining every head."""

from __future__ import annotations

from psionic.tassadar.executor.card import model_card
from psionic.tassadar.executor.compiler import build_circuit
from psionic.tassadar.executor.doc import DOC, render
from psionic.tassadar.executor.prompt import COVERED


def test_doc_holds_the_current_card() -> None:
    text = DOC.read_text()
    assert render(text) == text, "run: python -m psionic.tassadar.executor.doc"


def test_card_explains_every_head_and_names_every_covered_opcode() -> None:
    card = model_card()
    for layer in build_circuit().layers:
        for head in layer.heads:
            assert head.doc and f"`{head.name}`" in card
        assert all(u.doc for u in layer.units)
    for name in COVERED:
        assert f"`{name}`" in card
    assert "| 7 |" in card and "| 36 |" in card and "| 18 |" in card
