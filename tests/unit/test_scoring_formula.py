"""Formulas of derived measures: parsed by a small grammar, never eval'd."""

import pytest

from app.scoring import FormulaError, evaluation_order, parse_formula


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("completed / enrolled * 100", {"completed": 3, "enrolled": 4}, 75.0),  # 3/4*100
        ("a + b * c", {"a": 1, "b": 2, "c": 3}, 7.0),  # 1 + 6: * binds tighter
        ("(a + b) * c", {"a": 1, "b": 2, "c": 3}, 9.0),
        ("a - b - c", {"a": 10, "b": 3, "c": 2}, 5.0),  # (10-3)-2: left-associative
        ("a / b / c", {"a": 12, "b": 3, "c": 2}, 2.0),  # (12/3)/2
        ("-a + 2", {"a": 5}, -3.0),
        ("- -a", {"a": 5}, 5.0),
        ("-(a - 0.5) * 2", {"a": 3}, -5.0),  # -(2.5)*2
        # Keys may contain '.', '-' and '_'; subtraction is written with spaces.
        ("lms.completed / completion-rate", {"lms.completed": 9, "completion-rate": 3}, 3.0),
        ("a_1 - 2", {"a_1": 5}, 3.0),
        ("1.5 * 4", {}, 6.0),
        ("2024q1 * 2", {"2024q1": 4}, 8.0),  # starts with a digit but is no number: a key
    ],
)
def test_evaluate(text: str, values: dict[str, float], expected: float) -> None:
    formula = parse_formula(text)
    assert formula.keys == frozenset(values)
    assert formula.evaluate(values) == expected


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("a / b", {"a": 1, "b": 0}),  # division by zero
        ("a / (b - b)", {"a": 1, "b": 2}),
        ("a + b", {"a": 1, "b": None}),  # a null input
        ("0 * b", {"b": None}),  # even when it would not matter
        ("a * a * a", {"a": 1e200}),  # overflows to infinity
    ],
)
def test_evaluate_is_none(text: str, values: dict[str, float | None]) -> None:
    assert parse_formula(text).evaluate(values) is None


def test_a_minus_b_without_spaces_is_one_key() -> None:
    assert parse_formula("a-b").keys == frozenset({"a-b"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "ends too early"),
        ("a +", "ends too early"),
        ("(a", r"expected '\)' to close '\(' at position 0, found the end"),
        ("a)", r"unexpected '\)' at position 1"),
        ("a b", "unexpected 'b' at position 2"),
        ("* a", r"unexpected '\*' at position 0"),
        ("Completed / 2", "unexpected character 'C' at position 0"),
        ("a ** 2", r"unexpected '\*' at position 3"),
        ("__import__('os')", "unexpected character '_' at position 0"),
        (".5", r"unexpected character '\.' at position 0"),
        ("a" * 65, "not a valid measure key"),
        ("(" * 60 + "1" + ")" * 60, "deeper than 50"),
        ("1 + " * 300 + "1", "longer than 1000"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(FormulaError, match=message):
        parse_formula(text)


def test_long_flat_formula_evaluates_without_recursion() -> None:
    formula = parse_formula("+".join(["a"] * 500))  # 999 characters, 499 additions
    assert formula.evaluate({"a": 1}) == 500.0


def test_evaluation_order_puts_inputs_first() -> None:
    formulas = {
        "pct": parse_formula("rate / 2"),
        "rate": parse_formula("completed / enrolled"),
        "completed": None,
        "enrolled": None,
    }
    order = evaluation_order(formulas)
    assert sorted(order) == sorted(formulas)
    assert order.index("completed") < order.index("rate") < order.index("pct")
    assert order.index("enrolled") < order.index("rate")


def test_evaluation_order_handles_a_long_chain() -> None:
    formulas = {f"m{i}": parse_formula(f"m{i - 1} + 1") for i in range(1, 3000)}
    formulas["m0"] = None
    assert evaluation_order(formulas) == [f"m{i}" for i in range(3000)]


@pytest.mark.parametrize(
    ("formulas", "message"),
    [
        (
            {"rate": "done / total", "done": None},
            "formula of 'rate' refers to unknown measure key 'total'",
        ),
        (
            {"rate": "done-total", "done": None},
            "unknown measure key 'done-total'; subtraction needs spaces",
        ),
        ({"a": "a + 1"}, "cycle: a -> a"),
        ({"a": "b", "b": "c", "c": "a"}, "cycle: a -> b -> c -> a"),
    ],
)
def test_evaluation_order_errors(formulas: dict[str, str | None], message: str) -> None:
    parsed = {key: None if text is None else parse_formula(text) for key, text in formulas.items()}
    with pytest.raises(FormulaError, match=message):
        evaluation_order(parsed)
