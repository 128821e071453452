"""The house rules that a reader cannot check at a glance: layers point one way, no import
cycles, no private access into other libraries (groqstream speaks HTTP/1.1 itself), the simulated
server shares no code with the client, and `import groqstream` pulls in no optional extra."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import groqstream

SRC = Path(groqstream.__file__).parent

# Lower rank = lower layer. A module may import only modules of a lower or equal rank.
RANKS: dict[str, int] = {
    "_version": 0,
    "models": 0,
    "_stats": 0,
    "errors": 0,
    "_hooks": 0,
    "_gcfreeze": 0,
    "types": 1,
    "metrics": 2,
    "ratelimit": 2,
    "routing": 2,
    "sse": 2,
    "_fastpath": 2,
    "_body": 2,
    "partial_json": 2,
    "chunks": 3,
    "report": 3,
    "_tls": 3,
    "_h1": 2,
    "_pool": 4,
    "_retry": 4,
    "_looplag": 4,
    "_transport": 5,
    "stream": 6,
    "structured": 6,
    "fanout": 7,
    "tools": 7,
    "client": 8,
    "router": 9,
    "batch": 9,
    "batch.lines": 9,
    "batch.choice": 9,
    "batch.remote": 9,
    "batch.groq_api": 9,
    "batch.sync": 9,
    "batch.groq_batch": 9,
}
SANS_IO = {
    "errors",
    "_h1",
    "types",
    "metrics",
    "ratelimit",
    "sse",
    "_fastpath",
    "_body",
    "chunks",
    "partial_json",
    "routing",
}
TOP = 10  # cli/, bench/, ui/, otel, distributed, __init__, __main__: may use anything below


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    return ".".join(rel.parts)


def rank(module: str) -> int:
    if module.startswith("testing"):
        return -1  # its own island
    return RANKS.get(module, TOP)


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports(path: Path, *, typing_too: bool = False) -> tuple[set[str], set[str]]:
    """(groqstream modules imported, third-party top-level packages imported) by a file,
    counting imports inside functions, and those only for type checking if `typing_too`."""
    tree = ast.parse(path.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    own: set[str] = set()
    other: set[str] = set()
    base = module_name(path).split(".")
    package = base[:-1]  # the package a relative import starts from
    for node in ast.walk(tree):
        if not typing_too and _type_checking_only(node, parents):
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                pkg = package[: len(package) - (node.level - 1)]
                target = ".".join([*pkg, *(node.module.split(".") if node.module else [])])
                names = [target] if node.module else []
                names += [f"{target}.{a.name}".lstrip(".") for a in node.names]
                own.update(n for n in names if _exists(n))
            elif node.module and node.module.split(".")[0] == "groqstream":
                own.add(node.module.removeprefix("groqstream").lstrip("."))
            elif node.module:
                other.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "groqstream":
                    own.add(a.name.removeprefix("groqstream").lstrip("."))
                else:
                    other.add(a.name.split(".")[0])
    own.discard("")
    return own, other


def _exists(name: str) -> bool:
    p = SRC.joinpath(*name.split("."))
    return p.with_suffix(".py").exists() or (p / "__init__.py").exists()


def graph(*, typing_too: bool = False) -> dict[str, set[str]]:
    g = {}
    for path in SRC.rglob("*.py"):
        name = module_name(path).removesuffix(".__init__")
        own, _ = imports(path, typing_too=typing_too)
        g[name] = {m.removesuffix(".__init__") for m in own} - {name}
    return g


def test_no_import_cycle() -> None:
    """Not even through an import made only for type checking or inside a function: two
    modules that need each other are one idea split wrongly (DESIGN.md)."""
    g = graph(typing_too=True)
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        path.append(n)
        for m in sorted(g.get(n, ())):
            assert state.get(m) != 1, "import cycle: " + " -> ".join([*path, m])
            if m not in state:
                visit(m)
        path.pop()
        state[n] = 2

    for n in sorted(g):
        if n not in state:
            visit(n)


def test_layers_point_one_way() -> None:
    wrong = []
    for name, deps in graph().items():
        for dep in deps:
            if name.startswith("testing") != dep.startswith("testing") and name.startswith(
                "testing"
            ):
                wrong.append(f"{name} -> {dep}: the simulated server must not share client code")
            elif rank(dep) > rank(name) and not name.startswith("testing"):
                wrong.append(f"{name} (rank {rank(name)}) -> {dep} (rank {rank(dep)})")
    assert not wrong, "\n".join(wrong)


def test_the_sans_io_core_does_no_io() -> None:
    io = {"aiohttp", "anyio", "asyncio", "socket", "time", "trio"}
    for name in SANS_IO:
        _, other = imports(SRC / f"{name}.py")
        assert not other & io, f"{name} imports {other & io}"


def test_the_batch_state_does_no_io() -> None:
    """The groq-batch backend's state and the auto choice are fed answers and times; the
    HTTP calls and file writes live beside them (`groq_api.py`, `groq_batch.py`)."""
    io = {"aiohttp", "anyio", "asyncio", "socket", "time", "trio", "os"}
    for name in ("remote", "choice"):
        own, other = imports(SRC / "batch" / f"{name}.py")
        assert not other & io, f"batch.{name} imports {other & io}"
        assert own <= {"batch.lines", "errors", "batch"}, f"batch.{name} imports {own}"


def _own_private_names() -> set[str]:
    """Every `_name` groqstream itself defines: functions, attributes, slots, fields."""
    names: set[str] = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)  # __slots__ entries
    return {n for n in names if n.startswith("_")}


def test_no_private_access_into_other_libraries() -> None:
    own = _own_private_names()
    found = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and node.attr not in own
            ):
                found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    assert not found, "\n".join(found)


def _selfish(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _defined_here(tree: ast.Module) -> set[str]:
    """The private names a module defines itself: its functions, classes, module-level names,
    slots and the attributes its classes set on `self`/`cls`."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and _selfish(node.value)
        ):
            names.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)  # __slots__ entries
    return {n for n in names if _private(n)}


def _from_dir(path: Path, node: ast.ImportFrom) -> Path:
    """The directory an import's `from` part names (`from ..x import` in a/b.py: a/../x)."""
    base = path.parents[node.level - 1] if node.level else SRC.parent
    return base.joinpath(*(node.module or "").split("."))


def _is_module(package: Path, name: str) -> bool:
    """A private *module* (`from . import _hooks`) is the package's own: importing it is fine."""
    return (package / f"{name}.py").exists() or (package / name / "__init__.py").exists()


def private_reaches(path: Path) -> list[str]:
    """Uses of another module's private names in `path`: `from x import _name`, and
    `obj._name` where `_name` is not one the module defines itself (`self._x`/`cls._x`
    inside a class are always its own business)."""
    tree = ast.parse(path.read_text())
    mine = _defined_here(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or "groqstream" in (node.module or "")):
            found += [
                f"{path.name}:{node.lineno} imports {a.name}"
                for a in node.names
                if _private(a.name) and not _is_module(_from_dir(path, node), a.name)
            ]
        elif (
            isinstance(node, ast.Attribute)
            and _private(node.attr)
            and not _selfish(node.value)
            and node.attr not in mine
        ):
            found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    return found


def test_no_private_reach_into_another_groqstream_module() -> None:
    found = []
    for path in SRC.rglob("*.py"):
        found += private_reaches(path)
    assert not found, "\n".join(found)


def test_the_private_reach_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from .batch import _lines\n"
        "class A:\n"
        "    def __init__(self, other):\n"
        "        self._mine = other._theirs\n"
        "        self._mine.x = other._mine\n"
    )
    assert private_reaches(bad) == ["bad.py:1 imports _lines", "bad.py:4 other._theirs"]


def test_import_groqstream_pulls_in_no_optional_extra() -> None:
    code = (
        "import sys, groqstream, groqstream.testing; "
        "heavy = {'opentelemetry', 'ray', 'starlette', 'plotly', 'rich', 'matplotlib', "
        "'uvloop', 'fastapi', 'pytest', 'pydantic'} & {m.split('.')[0] for m in sys.modules}; "
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
