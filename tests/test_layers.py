"""The layers of docs' architecture, checked on every import statement of `bot/`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.once  # imports between layers: no database

BOT = Path(__file__).resolve().parent.parent / "bot"
VOCABULARY = "bot.core.vocabulary"  # a leaf: every layer may speak the domain's words

# (folder, modules it must never import, with their submodules)
FORBIDDEN = [
    (
        "core",
        ("bot.settings", "bot.channels", "bot.delivery", "bot.web", "bot.app", "bot.upkeep"),
    ),
    ("core", ("telegram", "twilio", "starlette", "apscheduler", "httpx", "aiohttp")),
    # Core reads as the domain's rules: every query it needs lives in a storage module.
    ("core", ("sqlalchemy",)),
    ("channels", ("bot.storage",)),
    ("storage", ("bot.core", "bot.channels", "bot.delivery", "bot.settings")),
    ("delivery", ("bot.channels", "bot.core")),
]


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def breaks(module: str, forbidden: tuple[str, ...]) -> bool:
    if module == VOCABULARY:
        return False
    return any(module == f or module.startswith(f + ".") for f in forbidden)


@pytest.mark.parametrize(("folder", "forbidden"), FORBIDDEN)
def test_no_module_imports_across_its_layer(folder: str, forbidden: tuple[str, ...]) -> None:
    wrong = {
        f"{path.relative_to(BOT)} imports {module}"
        for path in (BOT / folder).rglob("*.py")
        if "migrations" not in path.parts
        for module in imports(path)
        if breaks(module, forbidden)
    }
    assert not wrong, sorted(wrong)


def test_the_vocabulary_imports_nothing_of_the_project() -> None:
    assert not {m for m in imports(BOT / "core" / "vocabulary.py") if m.startswith("bot")}


def test_the_check_sees_a_forbidden_import() -> None:
    assert breaks("bot.storage.models", ("bot.storage",))
    assert breaks("telegram.ext", ("telegram",))
    assert not breaks("bot.core.vocabulary", ("bot.core",))
    assert not breaks("bot.storagex", ("bot.storage",))


def test_a_module_over_500_lines_says_why_in_its_docstring() -> None:
    unexplained = []
    for path in sorted(BOT.rglob("*.py")):
        source = path.read_text()
        if source.count("\n") > 500:
            doc = ast.get_docstring(ast.parse(source)) or ""
            if "why one" not in doc.lower():
                unexplained.append(str(path.relative_to(BOT)))
    assert unexplained == []
