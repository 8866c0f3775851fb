"""Objects a create names by id must exist (issue 14): ``input_file`` / ``input_image`` ``file_id``,
``file_search`` ``vector_store_ids``, and ``code_interpreter``'s ``container`` (an id, or ``{"type": "auto",
"file_ids": [...]}``), looked up in the session's Files, Vector Stores and Containers.

The real API refuses a request that names an object it does not have (400). Wordings are chosen in the
style of the observed "Item with id '…' not found." (docs/errors.md), except the observed "Container is
expired.". On by default; ``check_references=False`` (``--no-check-references``) turns it off for suites
that use placeholder ids. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .containers import ContainerBook
from .errors import InvalidRequest
from .files import FileBook
from .vector_stores import VectorStoreBook

__all__ = ["check"]

_FILE_PARTS = frozenset({"input_file", "input_image"})


def check(
    request: Mapping[str, Any],
    *,
    files: FileBook,
    vector_stores: VectorStoreBook,
    containers: ContainerBook,
    now: float,
) -> None:
    """Raise the real 400 for the first id the request names that the session does not have.

    A container that is used gets its ``last_active_at`` moved to ``now`` (it stays alive).

    Raises:
        InvalidRequest: an unknown file, vector store or container, or an expired container.
    """
    items = request.get("input")
    for i, item in enumerate(items if isinstance(items, list) else ()):
        content = item.get("content") if isinstance(item, Mapping) else None
        for j, part in enumerate(content if isinstance(content, list) else ()):
            if isinstance(part, Mapping) and part.get("type") in _FILE_PARTS:
                _file(part.get("file_id"), files, f"input[{i}].content[{j}].file_id")
    tools = request.get("tools")
    for k, tool in enumerate(tools if isinstance(tools, list) else ()):
        if not isinstance(tool, Mapping):
            continue
        if tool.get("type") == "file_search":
            for store in tool.get("vector_store_ids") or ():
                if isinstance(store, str) and store not in vector_stores:
                    raise InvalidRequest(
                        f"Vector store with id '{store}' not found.", param=f"tools[{k}].vector_store_ids"
                    )
        elif tool.get("type") == "code_interpreter":
            container = tool.get("container")
            if isinstance(container, str):
                containers.use(container, now=now, param=f"tools[{k}].container")
            elif isinstance(container, Mapping):
                for n, file_id in enumerate(container.get("file_ids") or ()):
                    _file(file_id, files, f"tools[{k}].container.file_ids[{n}]")


def _file(file_id: Any, files: FileBook, param: str) -> None:
    if isinstance(file_id, str) and file_id not in files:
        raise InvalidRequest(f"File with id '{file_id}' not found.", param=param)
