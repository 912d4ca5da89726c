"""Derived-measure formulas: a tiny arithmetic language over measure keys, parsed, never eval'd.

Grammar (``+ - * /``, unary minus, parentheses)::

    expression := term (("+" | "-") term)*
    term       := factor (("*" | "/") factor)*
    factor     := "-" factor | operand | "(" expression ")"
    operand    := number | key

Measure keys may contain ``.``, ``-`` and ``_`` (``lms.completed``, ``completion-rate``), so a word
is read greedily as one token from the characters ``[a-z0-9_.-]``: ``a-b`` is the single key
``a-b``; subtraction needs spaces (``a - b``). A word made only of digits with an optional
fractional part (``12``, ``0.5``) is a number; any other word is a key.
"""

import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

MAX_LENGTH = 1000
MAX_DEPTH = 50

KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_WORD = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")
_SUBTRACTION_HINT = "subtraction needs spaces around '-' (write 'a - b')"

_BINARY: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}


class FormulaError(ValueError):
    pass


# A compiled formula is a postfix program, so evaluating a long formula needs no recursion. An
# instruction is a number to push, an operator ("+", "-", "*", "/", or "~" for negation) or a key
# to push; keys never clash with operators since they start with a letter or digit.
_Instruction = float | str
_NEGATE = "~"


@dataclass(frozen=True)
class Formula:
    text: str
    keys: frozenset[str]
    program: tuple[_Instruction, ...] = field(repr=False, compare=False)

    def evaluate(self, values: Mapping[str, float | None]) -> float | None:
        """The formula's value; None when an input is None, on division by zero or overflow.

        `values` must hold every key in `keys`.
        """
        inputs: dict[str, float] = {}
        for key in self.keys:
            value = values[key]
            if value is None:
                return None
            inputs[key] = value
        stack: list[float] = []
        try:
            for instruction in self.program:
                if isinstance(instruction, float):
                    stack.append(instruction)
                elif instruction == _NEGATE:
                    stack.append(-stack.pop())
                elif instruction in _BINARY:
                    right = stack.pop()
                    stack.append(_BINARY[instruction](stack.pop(), right))
                else:
                    stack.append(inputs[instruction])
        except (ZeroDivisionError, OverflowError):
            return None
        (result,) = stack
        return result if math.isfinite(result) else None


def parse_formula(text: str) -> Formula:
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"formula is longer than {MAX_LENGTH} characters")
    parser = _Parser(list(_tokenize(text)))
    parser.expression(depth=0)
    trailing = parser.peek()
    if trailing is not None:
        raise FormulaError(f"unexpected {trailing.describe()} at position {trailing.position}")
    keys = frozenset(i for i in parser.program if isinstance(i, str) and KEY_PATTERN.match(i))
    return Formula(text=text, keys=keys, program=tuple(parser.program))


def evaluation_order(formulas: Mapping[str, Formula | None]) -> list[str]:
    """Every key of `formulas`, ordered so that a formula's inputs come before it.

    `formulas` maps each measure key to its formula (None for a measure with readings). Keys keep
    their given order where dependencies allow. Raises FormulaError for a key that is not in
    `formulas` and for a cycle (a formula that refers to itself counts).
    """
    order: list[str] = []
    done: set[str] = set()
    for root in formulas:
        if root in done:
            continue
        # Iterative depth-first search: a long chain of derived measures must not hit the
        # recursion limit. `path` is the chain currently being resolved.
        path: list[str] = [root]
        pending: list[Iterator[str]] = [iter(_inputs(formulas, root))]
        while path:
            key = next(pending[-1], None)
            if key is None:
                done.add(path[-1])
                order.append(path.pop())
                pending.pop()
            elif key in done:
                continue
            elif key in path:
                cycle = [*path[path.index(key) :], key]
                raise FormulaError(f"formulas form a cycle: {' -> '.join(cycle)}")
            elif key not in formulas:
                hint = f"; {_SUBTRACTION_HINT}" if "-" in key else ""
                raise FormulaError(
                    f"formula of '{path[-1]}' refers to unknown measure key '{key}'{hint}"
                )
            else:
                path.append(key)
                pending.append(iter(_inputs(formulas, key)))
    return order


def _inputs(formulas: Mapping[str, Formula | None], key: str) -> list[str]:
    formula = formulas[key]
    return [] if formula is None else sorted(formula.keys)


@dataclass(frozen=True)
class _Token:
    kind: str  # "num", "key", or the punctuation itself: + - * / ( )
    text: str
    position: int  # 0-based offset in the formula text

    def describe(self) -> str:
        return f"'{self.text}'"


def _tokenize(text: str) -> Iterator[_Token]:
    position = 0
    while position < len(text):
        char = text[position]
        if char.isspace():
            position += 1
        elif char in "+-*/()":
            yield _Token(char, char, position)
            position += 1
        elif word := _WORD.match(text, position):
            yield _word_token(word.group(), position)
            position = word.end()
        else:
            raise FormulaError(
                f"unexpected character '{char}' at position {position}; operands are numbers "
                "and measure keys (lower-case letters, digits, '_', '.', '-')"
            )


def _word_token(word: str, position: int) -> _Token:
    if _NUMBER.fullmatch(word):
        return _Token("num", word, position)
    if not KEY_PATTERN.fullmatch(word):
        raise FormulaError(f"'{word}' at position {position} is not a valid measure key")
    return _Token("key", word, position)


class _Parser:
    """Recursive descent over the tokens, emitting the postfix program as it goes."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.program: list[_Instruction] = []

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise FormulaError("formula ends too early: expected a number, a key or '('")
        self.index += 1
        return token

    def expression(self, depth: int) -> None:
        self.term(depth)
        while (token := self.peek()) is not None and token.kind in ("+", "-"):
            self.index += 1
            self.term(depth)
            self.program.append(token.kind)

    def term(self, depth: int) -> None:
        self.factor(depth)
        while (token := self.peek()) is not None and token.kind in ("*", "/"):
            self.index += 1
            self.factor(depth)
            self.program.append(token.kind)

    def factor(self, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise FormulaError(f"formula nests deeper than {MAX_DEPTH} levels")
        token = self.take()
        if token.kind == "-":
            self.factor(depth + 1)
            self.program.append(_NEGATE)
        elif token.kind == "(":
            self.expression(depth + 1)
            closing = self.peek()
            if closing is None or closing.kind != ")":
                found = "the end" if closing is None else closing.describe()
                raise FormulaError(
                    f"expected ')' to close '(' at position {token.position}, found {found}"
                )
            self.index += 1
        elif token.kind == "num":
            self.program.append(float(token.text))
        elif token.kind == "key":
            self.program.append(token.text)
        else:
            raise FormulaError(
                f"unexpected {token.describe()} at position {token.position}: "
                "expected a number, a key or '('"
            )
