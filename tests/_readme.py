"""The README's code examples, to run them as the reader would."""

import os
import re

README = os.path.join(os.path.dirname(os.path.dirname(__file__)), "README.md")


def python_block(heading, *, contains=""):
    """The first ```python block under ``heading`` that has ``contains``."""
    with open(README, encoding="utf-8") as file:
        text = file.read()
    match = re.search(rf"^#+ {re.escape(heading)}$", text, flags=re.MULTILINE)
    assert match, f"no README section {heading!r}"
    section = re.split(r"^## ", text[match.end() :], flags=re.MULTILINE)[0]
    blocks = re.findall(r"^```python\n(.*?)^```$", section, flags=re.M | re.S)
    found = [block for block in blocks if contains in block]
    assert found, f"no python block with {contains!r} under {heading!r}"
    return found[0]
