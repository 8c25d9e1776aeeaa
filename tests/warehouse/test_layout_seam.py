"""No module outside flows/warehouse/ joins warehouse paths: the storage layer knows the layout.

This is the seam an object-store warehouse uses; a path joined elsewhere would bypass it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from flows.warehouse.layout import Warehouse

FLOWS = Path(__file__).resolve().parents[2] / "flows"
# names that hold a warehouse (a Warehouse or its folder) in the code base
HOLDERS = ("warehouse", "store")


def _names(node: ast.AST) -> list[str]:
    """Every name and attribute along an expression like `settings.warehouse.path(x)`."""
    found = []
    while True:
        if isinstance(node, ast.Attribute):
            found.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Name):
            found.append(node.id)
            return found
        else:
            return found


def _holds_warehouse(node: ast.AST) -> bool:
    return any(any(h in name.lower() for h in HOLDERS) for name in _names(node))


def joins(source: str) -> list[int]:
    """Lines that join a path onto a warehouse, or climb from a snapshot up into one."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            if _holds_warehouse(node.left):
                lines.append(node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("joinpath", "glob", "rglob", "iterdir", "path"):
                if _holds_warehouse(node.func.value):
                    lines.append(node.lineno)
        elif isinstance(node, ast.Attribute) and node.attr == "parent":
            if isinstance(node.value, ast.Attribute) and node.value.attr == "parent":
                lines.append(node.lineno)  # snapshot.parent.parent is the warehouse
    return sorted(set(lines))


def test_the_rule_catches_joins_the_old_code_made() -> None:
    old = (
        "root = warehouse / SNAPSHOTS\n"
        "target = settings.warehouse / 'reports' / snapshot.name\n"
        "for p in (warehouse / 'raw').rglob('*'): pass\n"
        "home = snapshot.parent.parent\n"
        "ok = folder / 'x.parquet'\n"
    )
    assert joins(old) == [1, 2, 3, 4]


def test_no_module_outside_the_storage_layer_joins_warehouse_paths() -> None:
    offenders = {}
    for path in sorted(FLOWS.rglob("*.py")):
        if path.is_relative_to(FLOWS / "warehouse"):
            continue
        found = joins(path.read_text(encoding="utf-8"))
        if found:
            offenders[path.relative_to(FLOWS.parent).as_posix()] = found
    assert offenders == {}, "join warehouse paths only through flows/warehouse/layout.py"


def test_keys_cannot_leave_the_warehouse(tmp_path) -> None:
    import pytest

    from flows.errors import TollError

    warehouse = Warehouse.at(tmp_path)
    for key in ("../x", "/etc/passwd", "raw/../../x"):
        with pytest.raises(TollError, match="expected a relative path"):
            warehouse.path(key)


def test_local_storage_create_is_create_only(tmp_path) -> None:
    storage = Warehouse.at(tmp_path).storage
    assert storage.create("raw/a.bin", b"one") is True
    assert storage.create("raw/a.bin", b"two") is False
    assert storage.read_bytes("raw/a.bin") == b"one"
    assert storage.list("raw") == ["raw/a.bin"]
