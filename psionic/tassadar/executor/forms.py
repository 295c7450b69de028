"""Linear forms (``{feature: coefficient}``, ``one`` for the constant) and the two ReGLU
idioms every circuit uses: the indicator ``[x == 0]`` and the step ``[x >= 1]`` of an
integer-valued form.

>>> add({"a": 1.0}, {"a": 2.0, "b": 1.0}, const=3.0)
{'one': 3.0, 'a': 3.0, 'b': 1.0}
"""

from __future__ import annotations

from psionic.tassadar.executor.circuit import Layer

Form = dict[str, float]


def add(*forms: Form, const: float = 0.0) -> Form:
    """The sum of ``forms`` plus ``const``."""
    out: Form = {"one": const} if const else {}
    for form in forms:
        for k, v in form.items():
            out[k] = out.get(k, 0.0) + v
    return out


def scale(form: Form, by: float) -> Form:
    return {k: by * v for k, v in form.items()}


def hat(layer: Layer, x: Form, out: str | Form, doc: str) -> None:
    """``out += [x == 0]`` (each feature of a form ``out`` times its coefficient):
    relu(x+1) - 2 relu(x) + relu(x-1)."""
    target = {out: 1.0} if isinstance(out, str) else out
    for shift, coef in ((1.0, 1.0), (0.0, -2.0), (-1.0, 1.0)):
        layer.unit(add(x, const=shift), {"one": 1.0}, scale(target, coef), doc)


def step(layer: Layer, x: Form, out: str, doc: str, value: Form | None = None) -> None:
    """``out += [x >= 1] value`` (``value`` a linear form, 1 by default): relu(x) - relu(x-1),
    each times ``value``."""
    value = value or {"one": 1.0}
    layer.unit(dict(x), value, {out: 1.0}, doc)
    layer.unit(add(x, const=-1.0), value, {out: -1.0}, doc)
