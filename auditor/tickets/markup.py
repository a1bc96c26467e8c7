"""The planner's Markdown, in the markup each ticketing service stores: ADF, Jira wiki, HTML.

Ticket bodies carry text from Azure (resource names, tags, evidence) that nobody here
controls, so each conversion is built so that text can only ever be text:

- ADF (Jira Cloud REST v3): a JSON tree; text lands in `text` nodes, which Jira never
  interprets, and links keep only http(s) targets.
- Jira wiki (Data Center REST v2): every character wiki markup gives a meaning to is
  backslash-escaped, so `{color}`, `[~user]`, `{code}` macros and `h1.` lines from Azure
  stay literal; code blocks go in `{noformat}`, whose closing tag is broken inside them.
- HTML (Azure Boards): markdown-it renders with raw HTML disabled (everything escaped) and
  its link validation (no javascript:/vbscript:/file: targets).

markdown-it-py parses (CommonMark); only the rendering for ADF and wiki is written here.
"""

from __future__ import annotations

import re
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

_PARSER = MarkdownIt("commonmark", {"html": False})
_SAFE_SCHEMES = ("http://", "https://")


def to_html(markdown: str) -> str:
    """HTML for Azure Boards fields (System.Description, System.History): raw HTML escaped."""
    return _PARSER.render(markdown)


# -- ADF ------------------------------------------------------------------------------------------


def to_adf(markdown: str) -> dict[str, Any]:
    """An Atlassian Document Format document (version 1) for Jira Cloud descriptions and comments."""
    tokens = _PARSER.parse(markdown)
    blocks = _adf_blocks(tokens, 0, len(tokens))
    return {"type": "doc", "version": 1, "content": blocks or [{"type": "paragraph", "content": []}]}


def _adf_blocks(tokens: list[Token], start: int, end: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    i = start
    while i < end:
        token = tokens[i]
        if token.nesting == 1:
            close = _matching_close(tokens, i)
            inner = _adf_blocks(tokens, i + 1, close)
            node = _adf_container(token, inner, tokens, i)
            if node is not None:
                blocks.append(node)
            i = close + 1
            continue
        if token.type == "inline":
            content = _adf_inline(token.children or [])
            blocks.append({"type": "paragraph", "content": content})
        elif token.type in ("fence", "code_block"):
            node: dict[str, Any] = {"type": "codeBlock", "content": _text_nodes(token.content.rstrip("\n"))}
            language = token.info.strip().split(" ")[0] if token.info else ""
            if language:
                node["attrs"] = {"language": language}
            blocks.append(node)
        elif token.type == "hr":
            blocks.append({"type": "rule"})
        i += 1
    return blocks


def _adf_container(token: Token, inner: list[dict[str, Any]], tokens: list[Token], index: int) -> dict[str, Any] | None:
    kind = token.type
    if kind == "paragraph_open":
        # The inline token inside became a paragraph already; a tight list item's paragraph is hidden.
        return inner[0] if inner else {"type": "paragraph", "content": []}
    if kind == "heading_open":
        level = int(token.tag[1])
        content = inner[0]["content"] if inner else []
        return {"type": "heading", "attrs": {"level": level}, "content": content}
    if kind == "bullet_list_open":
        return {"type": "bulletList", "content": inner}
    if kind == "ordered_list_open":
        return {"type": "orderedList", "content": inner}
    if kind == "list_item_open":
        return {"type": "listItem", "content": inner or [{"type": "paragraph", "content": []}]}
    if kind == "blockquote_open":
        return {"type": "blockquote", "content": inner}
    return {"type": "paragraph", "content": [n for block in inner for n in block.get("content", [])]}


def _adf_inline(children: list[Token]) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    marks: list[dict[str, Any]] = []
    for child in children:
        kind = child.type
        if kind in ("text", "html_inline"):
            nodes += _marked(child.content, marks)
        elif kind == "code_inline":
            nodes += _marked(child.content, [*marks, {"type": "code"}])
        elif kind == "softbreak":
            nodes += _marked(" ", marks)
        elif kind == "hardbreak":
            nodes.append({"type": "hardBreak"})
        elif kind == "strong_open":
            marks.append({"type": "strong"})
        elif kind == "em_open":
            marks.append({"type": "em"})
        elif kind == "link_open":
            href = str(child.attrs.get("href", ""))
            marks.append({"type": "link", "attrs": {"href": href}} if href.startswith(_SAFE_SCHEMES) else {"type": "none"})
        elif kind in ("strong_close", "em_close", "link_close"):
            if marks:
                marks.pop()
        elif kind == "image":
            nodes += _marked(child.content, marks)
    return nodes


def _marked(text: str, marks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not text:
        return []  # ADF rejects empty text nodes
    node: dict[str, Any] = {"type": "text", "text": text}
    real = [m for m in marks if m["type"] != "none"]
    if any(m["type"] == "code" for m in real):
        real = [m for m in real if m["type"] in ("code", "link")]  # code combines only with link
    if real:
        node["marks"] = [dict(m) for m in real]
    return [node]


def _text_nodes(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": text}] if text else []


def _matching_close(tokens: list[Token], open_index: int) -> int:
    depth = 0
    for j in range(open_index, len(tokens)):
        depth += tokens[j].nesting
        if depth == 0:
            return j
    return len(tokens) - 1


# -- Jira wiki ------------------------------------------------------------------------------------

# Every character Jira wiki markup (and its macros, links, mentions, emoticons, tables) reacts to.
_WIKI_SPECIAL = re.compile(r"([\\{}\[\]|*_+\-^~?!#()@:;<>=])")


def wiki_escape(text: str) -> str:
    """Text that Jira wiki markup renders literally."""
    return _WIKI_SPECIAL.sub(r"\\\1", text.replace("\r", " ").replace("\n", " "))


def to_wiki(markdown: str) -> str:
    """Jira wiki markup for Data Center REST v2 descriptions and comments."""
    tokens = _PARSER.parse(markdown)
    lines: list[str] = []
    list_prefix: list[str] = []
    pending_item = ""
    heading = ""
    for token in tokens:
        kind = token.type
        if kind == "bullet_list_open":
            list_prefix.append("*")
        elif kind == "ordered_list_open":
            list_prefix.append("#")
        elif kind in ("bullet_list_close", "ordered_list_close"):
            list_prefix.pop()
            if not list_prefix:
                lines.append("")
        elif kind == "list_item_open":
            pending_item = "".join(list_prefix) + " "
        elif kind == "heading_open":
            heading = f"{token.tag}. "
        elif kind == "inline":
            # A line that starts like "h1." or "bq." would become a heading or a quote.
            text = re.sub(r"^(h[1-6]|bq)\.", r"\1\\.", _wiki_inline(token.children or []))
            if pending_item:
                lines.append(pending_item + text)
                pending_item = ""
            elif list_prefix:
                lines.append(text)
            else:
                lines.append(heading + text)
                lines.append("")
            heading = ""
        elif kind in ("fence", "code_block"):
            body = token.content.rstrip("\n").replace("{noformat", "{ noformat")
            lines += ["{noformat}", body, "{noformat}", ""]
        elif kind == "hr":
            lines += ["----", ""]
    return "\n".join(lines).strip("\n") + "\n"


def _wiki_inline(children: list[Token]) -> str:
    out: list[str] = []
    link_stack: list[tuple[str, int]] = []
    for child in children:
        kind = child.type
        if kind in ("text", "html_inline", "image"):
            out.append(wiki_escape(child.content))
        elif kind == "code_inline":
            out.append("{{" + wiki_escape(child.content) + "}}")
        elif kind in ("softbreak",):
            out.append(" ")
        elif kind == "hardbreak":
            out.append("\\\\ ")
        elif kind in ("strong_open", "strong_close"):
            out.append("*")
        elif kind in ("em_open", "em_close"):
            out.append("_")
        elif kind == "link_open":
            link_stack.append((str(child.attrs.get("href", "")), len(out)))
        elif kind == "link_close" and link_stack:
            href, at = link_stack.pop()
            label = "".join(out[at:])
            del out[at:]
            safe = href.startswith(_SAFE_SCHEMES) and not re.search(r"[\s|\]\[{}]", href)
            out.append(f"[{label}|{href}]" if safe else label)
    return "".join(out)
