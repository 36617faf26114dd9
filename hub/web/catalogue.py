"""The page's words: one gettext catalogue per language, read from the package's .po
files when the hub starts (babel's reader), so no compile step can be forgotten.

Russian is the shop's language and the default; English is a link away (a cookie).
A message a catalogue lacks is shown as its msgid, the English text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LANGUAGE = "ru"
LANGUAGES = ("ru", "en")
#: The cookie that keeps a browser's choice of language.
LANGUAGE_COOKIE = "storehub_lang"


@dataclass(frozen=True)
class Catalogue:
    """Every language's translations: msgid -> text."""

    messages: dict[str, dict[str, str]]

    @classmethod
    def load(cls, directory: Path = LOCALE_DIR) -> Catalogue:
        messages: dict[str, dict[str, str]] = {}
        for language in LANGUAGES:
            with (directory / language / "LC_MESSAGES" / "messages.po").open("rb") as file:
                catalog = read_po(file, locale=language)
            messages[language] = {m.id: m.string for m in catalog if m.id and isinstance(m.id, str) and m.string}
        return cls(messages)

    def gettext(self, language: str):  # noqa: ANN201 (a plain callable for templates)
        table = self.messages.get(language, self.messages[DEFAULT_LANGUAGE])

        # The msgid is positional only: a template's value may be called ``message`` too.
        def translate(message: str, /, **values: object) -> str:
            text = table.get(message, message)
            return text % values if values else text

        return translate


def chosen_language(cookie: str | None) -> str:
    return cookie if cookie in LANGUAGES else DEFAULT_LANGUAGE
