"""The store layer: the only code that touches SQL (STYLE.md point 11)."""
