"""Ticket bodies in ADF, Jira wiki and HTML: structure kept, text from Azure never becomes markup."""

from __future__ import annotations

import json

from amlaudit.auditor.tickets.markup import to_adf, to_html, to_wiki, wiki_escape

BODY = """## Why
Azure Batch can reach **cpu-cluster** on `29876-29877`.

- subject: `/subscriptions/s/resourceGroups/rg`
- tag: {color:red}evil{color} [~admin] <script>alert(1)</script> !image.png!

```
{noformat}{code}x{code}
```

See [the docs](https://learn.microsoft.com/azure) and [bad](javascript:alert(1)).
h1. not a heading
"""


def _texts(node: dict) -> list[str]:
    found = [node["text"]] if node.get("type") == "text" else []
    for child in node.get("content", []):
        found += _texts(child)
    return found


def test_adf_keeps_structure_and_holds_azure_text_as_plain_text() -> None:
    doc = to_adf(BODY)
    assert (doc["type"], doc["version"]) == ("doc", 1)
    kinds = [block["type"] for block in doc["content"]]
    assert kinds == ["heading", "paragraph", "bulletList", "codeBlock", "paragraph"]
    assert doc["content"][0]["attrs"] == {"level": 2}
    texts = _texts(doc)
    assert "tag: {color:red}evil{color} [~admin] <script>alert(1)</script> !image.png!" in texts
    assert "{noformat}{code}x{code}" in texts
    links = [m["attrs"]["href"] for n in json.loads(json.dumps(doc))["content"][4]["content"] for m in n.get("marks", [])
             if m["type"] == "link"]
    assert links == ["https://learn.microsoft.com/azure"]  # the javascript: link stays text
    assert all(text for text in texts)  # ADF rejects empty text nodes


def test_wiki_escapes_every_markup_character_from_azure() -> None:
    wiki = to_wiki(BODY)
    assert wiki.startswith("h2. Why\n")
    assert "*cpu\\-cluster*" in wiki and "{{29876\\-29877}}" in wiki
    assert "\\{color\\:red\\}evil\\{color\\} \\[\\~admin\\]" in wiki and "\\!image.png\\!" in wiki
    assert "{noformat}\n{ noformat}{code}x{code}\n{noformat}" in wiki  # the block cannot be closed early
    assert "[the docs|https://learn.microsoft.com/azure]" in wiki and "javascript" not in wiki.replace("javascript\\:", "")
    assert "\nh1. " not in wiki and not any(line.startswith("h1.") for line in wiki.splitlines())


def test_wiki_heading_lookalike_at_a_line_start_is_escaped() -> None:
    assert to_wiki("h3. Owned\n").startswith("h3\\. Owned")
    assert to_wiki("bq. quote\n").startswith("bq\\. quote")
    assert wiki_escape("a|b") == "a\\|b"


def test_html_escapes_raw_html_and_drops_script_links() -> None:
    html = to_html(BODY)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<a href="https://learn.microsoft.com/azure">the docs</a>' in html
    assert 'href="javascript' not in html
    assert "<h2>Why</h2>" in html and "<strong>cpu-cluster</strong>" in html
