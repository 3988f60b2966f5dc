"""A small parser for include/vae/vae.h: just enough C to list the public
functions with their types, the enums with their values, the callback
typedefs and the plain structs, so the tests can hold the bindings to it."""

from __future__ import annotations

import dataclasses
import re
from typing import Dict, List, Optional, Tuple


@dataclasses.dataclass
class Function:
    name: str
    result: str           # normalised C type, e.g. "const char *"
    params: List[str]     # normalised C types


@dataclasses.dataclass
class Header:
    functions: Dict[str, Function]
    enums: Dict[str, Dict[str, int]]            # typedef name -> {C name: value}
    anonymous_constants: Dict[str, int]         # values of unnamed enums
    callbacks: Dict[str, Function]              # function pointer typedefs
    structs: Dict[str, List[Tuple[str, str]]]   # name -> [(type, field)]
    opaque: List[str]                           # typedef struct x x; without a body


def _strip(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r"\\\n", " ", text)
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def normalise(decl: str) -> Tuple[str, Optional[str]]:
    """Split a declaration "const char *name" into ("const char *", "name")."""
    tokens = re.findall(r"\w+|\*", decl)
    words = [t for t in tokens if t != "*"]
    name = None
    if tokens and tokens[-1] != "*" and len([w for w in words if w != "const"]) > 1:
        name = tokens.pop()
    words = [t for t in tokens if t != "*"]
    stars = tokens.count("*")
    return (" ".join(words) + (" " + "*" * stars if stars else "")), name


def _params(text: str) -> List[str]:
    text = text.strip()
    if text in ("", "void"):
        return []
    return [normalise(p)[0] for p in text.split(",")]


def _function(decl: str) -> Function:
    m = re.match(r"(.*?)\b(\w+)\s*\((.*)\)\s*$", decl, flags=re.S)
    if not m:
        raise ValueError(f"cannot parse declaration: {decl!r}")
    return Function(m.group(2), normalise(m.group(1) + " x")[0], _params(m.group(3)))


def _value(expr: str, known: Dict[str, int]) -> int:
    expr = re.sub(r"\b(\d+)[uUlL]+\b", r"\1", expr.strip())
    return int(eval(expr, {"__builtins__": {}}, dict(known)))  # noqa: S307 - our own header


def parse(text: str) -> Header:
    src = _strip(text)
    functions: Dict[str, Function] = {}
    for decl in re.findall(r"\bVAE_API\b(.*?);", src, flags=re.S):
        decl = re.sub(r"\bVAE_NODISCARD\b|\bVAE_DEPRECATED\s*\([^)]*\)", " ", decl)
        f = _function(" ".join(decl.split()))
        functions[f.name] = f

    enums: Dict[str, Dict[str, int]] = {}
    anonymous: Dict[str, int] = {}
    for m in re.finditer(r"(typedef\s+)?enum\s*(\w*)\s*\{(.*?)\}\s*(\w*)\s*;", src, flags=re.S):
        values: Dict[str, int] = {}
        nxt = 0
        for item in filter(None, (i.strip() for i in m.group(3).split(","))):
            name, _, expr = item.partition("=")
            name = name.strip()
            nxt = _value(expr, {**anonymous, **values}) if expr else nxt
            values[name] = nxt
            nxt += 1
        if m.group(1):
            enums[m.group(4)] = values
        else:
            anonymous.update(values)

    callbacks: Dict[str, Function] = {}
    for m in re.finditer(r"typedef\s+([^;()]*?)\(\s*\*\s*(\w+)\s*\)\s*\(([^;]*)\)\s*;", src):
        callbacks[m.group(2)] = Function(m.group(2), normalise(m.group(1) + " x")[0],
                                         _params(m.group(3)))

    structs: Dict[str, List[Tuple[str, str]]] = {}
    for m in re.finditer(r"typedef\s+struct\s+(\w+)\s*\{(.*?)\}\s*\w+\s*;", src, flags=re.S):
        fields = []
        for decl in filter(None, (d.strip() for d in m.group(2).split(";"))):
            ctype, name = normalise(decl)
            fields.append((ctype, name or ""))
        structs[m.group(1)] = fields

    opaque = re.findall(r"typedef\s+struct\s+(\w+)\s+\1\s*;", src)
    return Header(functions, enums, anonymous, callbacks, structs, opaque)
