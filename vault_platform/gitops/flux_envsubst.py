"""Flux's post-build variable substitution, re-implemented from its documented rules.

A Flux Kustomization with ``spec.postBuild`` runs, on every object ``kustomize build``
produces, the kustomize-controller's substitution: the object is serialised to YAML, every
``${...}`` expression in that text is evaluated by Flux's fork of drone/envsubst, and the
result is read back as YAML. Sources (read, not copied):

- fluxcd/kustomize-controller ``docs/spec/v1/kustomizations.md``, "Post build variable
  substitution" and "Post build substitution of numbers and booleans";
  ``internal/controller/kustomization_controller.go`` (every built object, after decryption);
- fluxcd/pkg ``kustomize/kustomize_varsub.go`` (``SubstituteVariables``, ``varSubstitution``)
  and ``envsubst/`` (the fork of drone/envsubst: ``parse/scan.go``, ``parse/parse.go``,
  ``template.go``, ``funcs.go``, README's table of expressions).

What follows from them, and what this module does:

- Only ``${`` starts an expression; ``$var`` is left alone. ``$$`` is an escape for one
  ``$`` wherever it occurs outside an expression: ``$${var}`` prints ``${var}`` (the
  documented escape), and so ``$$`` anywhere (a PostgreSQL ``DO $$ ... $$`` body, a shell
  ``$$``) loses a ``$``.
- ``${var}``, ``${#var}``, ``${var^}``, ``${var^^}``, ``${var,}``, ``${var,,}``,
  ``${var:n}``, ``${var:n:len}``, ``${var#p}``, ``${var##p}``, ``${var%p}``, ``${var%%p}``,
  ``${var=d}``, ``${var:=d}``, ``${var:-d}`` (and the parser's ``${var:?d}``, ``${var:+d}``,
  which evaluate like a default), ``${var/p/r}``, ``${var//p/r}``, ``${var/#p/r}``,
  ``${var/%p/r}``. ``${var-d}`` and ``${var+d}`` do not parse (the README lists the first,
  the parser refuses it), nor does a name that is not letters, digits and ``_`` (``${@}``,
  ``${!x}``, ``${a.b}``): a syntax error fails the whole Kustomization's build.
- An undefined variable becomes the empty string, unless the controller runs with strict
  substitution (then an error, except under a default-giving operator).
- Substitution runs only when at least one variable is defined (``substituteStrategy:
  Always`` aside), and never on an object labelled or annotated
  ``kustomize.toolkit.fluxcd.io/substitute: disabled``. Values lose their newlines.
- The result is YAML again: a value that the source file quoted (``"${PORT}"``) is written
  unquoted by kustomize (``value: ${PORT}``), so ``5432`` comes back a number and ``true`` a
  boolean. Read back here with PyYAML's safe loader: YAML 1.1 resolution, like the go-yaml
  v2 behind sigs.k8s.io/yaml's ``YAMLToJSON`` that Flux uses.

Go works on bytes where this works on code points (``${#var}``, ``${var:n}``): the same for
ASCII, which is all the platform's values are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import yaml

SUBSTITUTE_KEY = "kustomize.toolkit.fluxcd.io/substitute"
DISABLED = "disabled"
VARIABLE_NAME = re.compile(r"[_A-Za-z][_A-Za-z0-9]*")  # the controller's ^[_[:alpha:]][_[:alpha:][:digit:]]*$
_DEFAULT_OPERATORS = frozenset({"-", "+", "=", "?", ":-", ":+", ":=", ":?"})


class SubstitutionError(ValueError):
    """What makes Flux fail the Kustomization: a syntax error, an invalid variable name, a
    variable missing under strict substitution, or YAML the result does not parse as."""


def _is_name_char(char: str) -> bool:
    return char.isalpha() or char.isdigit() or char == "_"


@dataclass
class _Expression:
    """One ``${...}``: the variable, its operator ("" for plain), and its arguments, each a
    list of parts (text, or a nested expression)."""

    name: str
    operator: str
    args: list[list[str | _Expression]]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self, ahead: int = 0) -> str:
        index = self.pos + ahead
        return self.text[index] if index < len(self.text) else ""

    def fail(self, problem: str) -> SubstitutionError:
        line = self.text.count("\n", 0, self.pos) + 1
        return SubstitutionError(f"{problem} (line {line}: {self.text.splitlines()[line - 1].strip()[:80]!r})"
                                 if self.text else problem)

    # Top level: text, `$$` -> `$`, `${` -> expression.
    def document(self) -> list[str | _Expression]:
        parts: list[str | _Expression] = []
        text: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "$" and self.peek(1) == "$":
                text.append("$")
                self.pos += 2
            elif char == "$" and self.peek(1) == "{":
                parts.append("".join(text))
                text = []
                self.pos += 2
                parts.append(self.expression())
            else:
                text.append(char)
                self.pos += 1
        parts.append("".join(text))
        return [part for part in parts if part != ""]

    def expression(self) -> _Expression:
        """After ``${``: up to and including the closing ``}``."""
        if self.peek() == "#":  # ${#var}
            self.pos += 1
            name = self.name()
            self.close()
            return _Expression(name, "#", [])
        name = self.name()
        char = self.peek()
        if char == ":":
            if self.peek(1) in ("=", "-", "?", "+"):
                return self.default(name, self.take(2))
            return self.substring(name)
        if char == "=":
            return self.default(name, self.take(1))
        if char in (",", "^"):
            operator = self.run(lambda c, i: c in ",^" and i < 2)
            self.close()
            return _Expression(name, operator, [])
        if char == "/":
            return self.replace(name)
        if char in ("#", "%"):
            operator = self.run(lambda c, i: c == char and i < 2)
            pattern = self.param(lambda c: c != "}", escapes=False)
            self.close()
            return _Expression(name, operator, [pattern])
        if char != "}":
            raise self.fail(f"missing closing brace after ${{{name}")
        self.pos += 1
        return _Expression(name, "", [])

    def take(self, count: int) -> str:
        taken = self.text[self.pos:self.pos + count]
        self.pos += count
        return taken

    def run(self, accept: Callable[[str, int], bool]) -> str:
        start = self.pos
        while self.pos < len(self.text) and accept(self.text[self.pos], self.pos - start):
            self.pos += 1
        return self.text[start:self.pos]

    def name(self) -> str:
        name = self.run(lambda c, _i: _is_name_char(c))
        if not name:
            raise self.fail("unable to parse variable name")
        return name

    def close(self) -> None:
        if self.peek() != "}":
            raise self.fail("bad substitution")
        self.pos += 1

    def param(self, accept: Callable[[str], bool], *, escapes: bool) -> list[str | _Expression]:
        """One argument: a nested ``${...}``, or text while ``accept`` holds (at least one
        character), stopping before a ``${``. With ``escapes`` (replacement patterns),
        ``$$``, ``\\/`` and ``\\\\`` stand for their second character."""
        if self.peek() == "$" and self.peek(1) == "{":
            self.pos += 2
            return [self.expression()]
        text: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "$" and self.peek(1) == "{":
                break
            if escapes and ((char == "$" and self.peek(1) == "$") or (char == "\\" and self.peek(1) in ("/", "\\"))):
                text.append(self.peek(1))
                self.pos += 2
                continue
            if not accept(char):
                break
            text.append(char)
            self.pos += 1
        if not text:
            raise self.fail("unable to parse substitution within function")
        return ["".join(text)]

    def default(self, name: str, operator: str) -> _Expression:
        args: list[list[str | _Expression]] = []
        while self.peek() != "}":
            if not self.peek():
                raise self.fail("unable to parse substitution within function")
            args.append(self.param(lambda c: c != "}", escapes=False))
        self.pos += 1
        return _Expression(name, operator, args)

    def substring(self, name: str) -> _Expression:
        self.pos += 1  # ':'
        args = [self.param(lambda c: c not in ":}", escapes=False)]
        if self.peek() == "}":
            self.pos += 1
            return _Expression(name, ":", args)
        if self.peek() != ":":
            raise self.fail("bad substitution")
        self.run(lambda c, _i: c == ":")
        args.append(self.param(lambda c: c != "}", escapes=False))
        self.close()
        return _Expression(name, ":", args)

    def replace(self, name: str) -> _Expression:
        operator = self.run(lambda c, i: (i == 0 and c == "/") or (i == 1 and c in "/#%"))
        args = [self.param(lambda c: c != "/", escapes=True)]
        if not self.run(lambda c, _i: c == "/"):
            raise self.fail("bad substitution")
        if self.peek() != "}":
            args.append(self.param(lambda c: c != "}", escapes=True))
        self.close()
        return _Expression(name, operator, args)


def _glob(pattern: str) -> re.Pattern[str]:
    """The fork's own ``envsubst/path.Match`` as a regular expression: unlike Go's path.Match,
    its ``*`` and ``?`` also match ``/`` (``${f##*/}`` of ``path/to/file`` is ``file``)."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif char == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                raise ValueError("bad pattern")
            body = pattern[i + 1:end]
            out.append("[" + ("^" + body[1:] if body.startswith("^") else body).replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _trim_prefix(value: str, pattern: str, longest: bool) -> str:
    try:
        glob = _glob(pattern)
    except ValueError:
        return value
    ends = range(len(value), 0, -1) if longest else range(1, len(value) + 1)
    for end in ends:
        if glob.fullmatch(value[:end]):
            return value[end:]
    return value


def _substring(value: str, args: list[str]) -> str:
    try:
        position = int(args[0])
    except ValueError:
        return value
    if position < 0:
        position = max(len(value) + position, 0)
    if len(args) == 1:
        return value[position:]
    try:
        length = int(args[1])
    except ValueError:
        return value
    return value[position:position + length] if position + length < len(value) else value[position:]


def _apply(operator: str, value: str, args: list[str]) -> str:
    if operator == "#" and not args:
        return str(len(value))
    if operator in ("#", "##"):
        return _trim_prefix(value, args[0], operator == "##")
    if operator in ("%", "%%"):
        return _trim_prefix(value[::-1], args[0][::-1], operator == "%%")[::-1]
    if operator == ",":
        return value[:1].lower() + value[1:]
    if operator == ",,":
        return value.lower()
    if operator == "^":
        return value[:1].upper() + value[1:]
    if operator == "^^":
        return value.upper()
    if operator == ":":
        return _substring(value, args)
    if operator in ("/", "//"):
        replacement = args[1] if len(args) > 1 else ""
        return value.replace(args[0], replacement, -1 if operator == "//" else 1)
    if operator == "/#":
        return args[1] + value[len(args[0]):] if len(args) == 2 and value.startswith(args[0]) else value
    if operator == "/%":
        return value[:len(value) - len(args[0])] + args[1] if len(args) == 2 and value.endswith(args[0]) else value
    # Every default operator, and any other name, is "the value, or the arguments if empty".
    return value if value or not args else "".join(args)


def envsubst(text: str, variables: Mapping[str, str], *, strict: bool = False) -> str:
    """``text`` with every ``${...}`` evaluated as Flux's envsubst does."""
    parts = _Parser(text).document()

    def evaluate(part: str | _Expression) -> str:
        if isinstance(part, str):
            return part
        args = ["".join(evaluate(p) for p in arg) for arg in part.args]
        if part.name not in variables and strict and part.operator not in _DEFAULT_OPERATORS:
            raise SubstitutionError(f"variable not set (strict mode): {part.name!r}")
        return _apply(part.operator, variables.get(part.name, ""), args)

    return "".join(evaluate(part) for part in parts)


def substitution_disabled(obj: Mapping[str, object]) -> bool:
    metadata = obj.get("metadata") or {}
    assert isinstance(metadata, Mapping)
    return any((metadata.get(field) or {}).get(SUBSTITUTE_KEY) == DISABLED for field in ("labels", "annotations"))


def substitute_object(resource_yaml: str, variables: Mapping[str, str], *, strict: bool = False,
                      always: bool = False) -> dict:
    """One built object (its YAML as kustomize writes it) after Flux's post-build step."""
    obj = yaml.safe_load(resource_yaml)
    if substitution_disabled(obj):
        return obj
    if not variables and not always:
        return obj
    for name in variables:
        if not VARIABLE_NAME.fullmatch(name):
            raise SubstitutionError(f"{name!r} var name is invalid, must match '^[_[:alpha:]][_[:alpha:][:digit:]]*$'")
    values = {name: value.replace("\n", "") for name, value in variables.items()}
    try:
        return yaml.safe_load(envsubst(resource_yaml, values, strict=strict))
    except yaml.YAMLError as err:
        raise SubstitutionError(f"the substituted YAML does not parse: {err}") from None
