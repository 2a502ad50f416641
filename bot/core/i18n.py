"""Interface strings: gettext catalogues (config/locale/<lang>/LC_MESSAGES/messages.po) via Babel."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

DOMAIN = "messages"


@dataclass(frozen=True)
class Lang:
    """A language the bot speaks: its code, and gettext for its interface strings."""

    code: str
    translations: NullTranslations

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)


def load_catalogues(locale_dir: Path) -> dict[str, NullTranslations]:
    """Every catalogue under locale_dir, compiled in memory so translators edit only .po files."""
    catalogues: dict[str, NullTranslations] = {}
    for po_path in sorted(locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        folder = po_path.parent.parent.name  # a Babel locale: zh_Hans for the code zh-Hans
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=folder, domain=DOMAIN)
        code = folder.replace("_", "-")
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        catalogues[code] = Translations(fp=buffer, domain=DOMAIN)
    return catalogues


def N_(message: str) -> str:
    """Marks a string for extraction where it is defined; it is translated where it is used."""
    return message


def coverage(locale_dir: Path) -> dict[str, tuple[int, int]]:
    """Interface strings translated, of all in the template, by language code (English: all)."""
    with (locale_dir / f"{DOMAIN}.pot").open("rb") as handle:
        total = sum(1 for message in read_po(handle) if message.id)
    counts = {"en": (total, total)}
    for po_path in sorted(locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        with po_path.open("rb") as handle:
            catalog = read_po(handle)
        done = sum(
            1
            for message in catalog
            if message.id
            and not message.fuzzy
            and (all(message.string) if isinstance(message.string, tuple) else message.string)
        )
        counts[po_path.parent.parent.name.replace("_", "-")] = (done, total)
    return counts
