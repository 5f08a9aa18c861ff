"""Documents: who is typing where, which request of theirs is current, and which backend slot
holds their prompt.

A document is one file in one editor. Editors send no id for it (llama.vim and llama.vscode
send ``input_prefix``, ``prompt``, ``input_suffix``, ``input_extra`` and a fixed ``id_slot``;
Continue a finished prompt), so it is recognised from the text: consecutive keystrokes in one
file share almost every line around the cursor, whereas two files share few. A request's
*fingerprint* is the set of hashes of the distinct non-blank lines around the cursor (up to
``LINES_BEFORE`` lines before it, ``LINES_AFTER`` after, the cursor's own line left out as it
changes with every keystroke); it belongs to the document of the same client, route and model
(its *scope*) with which it shares at least ``SAME`` of its lines. Lines, not a common prefix:
llama.vim's prefix is a window of lines that slides by one line with each new line typed, so
the start of the text moves while the lines around the cursor stay. A request with no text (a
warm-up: llama.vim's ring of context chunks alone) belongs to the document whose context
chunks it shares (at least ``SAME_CONTEXT`` of them): its own editor's, as an editor's ring
changes a chunk at a time, whereas two editors on one project share some chunks only. The seed
API's explicit ``session`` names a document instead.

A document's ``key`` is opaque and stable while it is remembered (logs, usage). What the
table keeps per document: its fingerprint, its context's fingerprint, the layout of its last
prompt (``Memory``), its place (a backend and a slot of it), its current request.

- **Latest wins inside a document**: a newer exclusive request of a document supersedes the
  older one still queued or generating; another document, editor or client never does.
- **Placement** (``Placement``): a document stays on one backend and one slot (llama-server's
  ``id_slot``), where its prompt is in the KV cache; a new one takes a free slot on the
  backend with the most free slots and the least load; with every slot held, the least
  recently typed document (idle ones first) loses its slot, never the one being typed in.

Cost and memory: recognising reads at most ``WINDOW`` characters on each side of the cursor
and compares with at most ``RECENT`` documents of the scope, each of at most
``LINES_BEFORE + LINES_AFTER`` line hashes: constant whatever the prompt's size. At most
``CAPACITY`` documents are remembered (least recently used first out), each with at most
``LINES_BEFORE + LINES_AFTER`` line hashes, ``MAX_CONTEXT`` chunk hashes and ``MAX_LAYOUT``
chunk ids of at most ``MAX_ID`` characters: under 20 KB a document, 20 MB for the table at
worst, whatever clients send.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

import anyio

CAPACITY = 1024  # documents remembered, all clients together
RECENT = 32  # documents of one scope a request is compared with (and remembered per scope)
LINES_BEFORE = 40  # lines before the cursor in a fingerprint
LINES_AFTER = 8  # lines after it
WINDOW = 8192  # characters read on each side of the cursor
SAME = 0.5  # share of the lines around the cursor in common that makes one document
SAME_CONTEXT = 0.75  # share of context chunks in common that makes one editor's ring
MAX_CONTEXT = 64  # context chunks fingerprinted per request
MAX_LAYOUT = 128  # chunk ids remembered per document (a prompt's first ones)
MAX_ID = 64  # characters of a chunk id kept


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a request comes from: the client (its identity, never its key), the route family
    (their prompts differ), the document the client named (seed API's ``session``), and
    whether a newer request of its document supersedes it (``exclusive``)."""

    client: str
    route: str
    name: str = ""
    exclusive: bool = False


@dataclass(frozen=True, slots=True)
class Text:
    """What a request says about its document: the text before the cursor, after it, and
    the context chunks (other files) it came with."""

    before: str = ""
    after: str = ""
    context: tuple[str, ...] = ()

    @property
    def typed(self) -> bool:
        """Text around a cursor (a warm-up has none)."""
        return bool(self.before or self.after)


@dataclass(frozen=True, slots=True)
class Memory:
    layout: tuple[str, ...]  # chunk ids of the last prompt, in their order
    own_tokens: int  # what its last completion needed besides the context (prompt, output)


@dataclass(frozen=True, slots=True)
class Home:
    """Where a document's prompt is cached: a backend and one of its slots."""

    url: str
    slot: int


@dataclass(eq=False, slots=True)
class Document:
    key: str  # opaque, stable while the document is remembered
    scope: str
    model: str = ""  # the model alias: each model has its own slots on a backend
    lines: frozenset[int] = frozenset()
    context: frozenset[int] = frozenset()
    memory: Memory | None = None
    typed_at: int = 0  # tick of its latest typed request: the slots' LRU order
    home: Home | None = None
    current: Ticket | None = None  # its latest exclusive request still running
    running: int = 0  # its requests entered and not yet left


@dataclass(frozen=True, slots=True, eq=False)
class Ticket:
    """One request of a document; ``superseded`` is set when a newer one takes its place."""

    document: Document | None
    exclusive: bool = False
    superseded: anyio.Event = field(default_factory=anyio.Event)


def fingerprint(text: Text) -> tuple[frozenset[int], frozenset[int]]:
    """The hashes of the lines around the cursor (without the cursor's own line) and of the
    context chunks; linear in at most 2 x WINDOW characters and the chunks' text."""
    before = text.before[-WINDOW:].split("\n")[:-1][-LINES_BEFORE:]
    after = text.after[:WINDOW].split("\n")[1:][:LINES_AFTER]
    lines = frozenset(hash(line.strip()) for line in (*before, *after) if line.strip())
    context = frozenset(hash(chunk) for chunk in text.context[:MAX_CONTEXT])
    return lines, context


def _share(one: frozenset[int], other: frozenset[int]) -> float:
    if not one and not other:
        return 1.0
    return len(one & other) / max(len(one), len(other))


class Placement:
    """Which document holds which slot of which backend (``slots`` per backend and model:
    llama-server's router runs each model with its own ``--parallel`` slots)."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._held: dict[tuple[str, str], list[Document | None]] = {}
        self.evictions = 0

    @property
    def held(self) -> int:
        return sum(slot is not None for slots in self._held.values() for slot in slots)

    def place(self, document: Document, load: Mapping[str, int]) -> Home:
        """The document's home among the backends of ``load`` (url -> streams open, in
        preference order): its own while that backend is one of them, else a free slot on
        the backend with the most of them and the least load, else the slot of the least
        recently typed document there (one with no request running first)."""
        home = document.home
        if home is not None and home.url in load:
            return home
        self.release(document)
        model = document.model
        tables = {url: self._held.setdefault((url, model), [None] * self.slots) for url in load}
        free = {url: table.count(None) for url, table in tables.items()}
        url = min(load, key=lambda url: (-free[url], load[url]))
        if free[url]:
            slot = tables[url].index(None)
        else:
            victim = min(
                (doc for table in tables.values() for doc in table if doc is not None),
                key=lambda doc: (doc.running > 0, doc.typed_at),
            )
            assert victim.home is not None
            url, slot = victim.home.url, victim.home.slot
            victim.home = None
            self.evictions += 1
        tables[url][slot] = document
        document.home = Home(url, slot)
        return document.home

    def release(self, document: Document) -> None:
        """Free the document's slot, if it holds one."""
        home, document.home = document.home, None
        if home is not None:
            table = self._held.get((home.url, document.model))
            if table is not None and home.slot < len(table) and table[home.slot] is document:
                table[home.slot] = None


class Documents:
    """The documents remembered, their current requests and (through ``placement``) their
    slots."""

    def __init__(self, placement: Placement, capacity: int = CAPACITY) -> None:
        self.placement = placement
        self.capacity = capacity
        self._all: OrderedDict[str, Document] = OrderedDict()  # least recently used first
        self._scopes: dict[str, OrderedDict[str, Document]] = {}
        self._named: dict[tuple[str, str], Document] = {}
        self._names: dict[str, tuple[str, str]] = {}  # a named document's key -> its name
        self._ids = itertools.count(1)
        self._tick = itertools.count(1)
        self.superseded_total = 0

    def __len__(self) -> int:
        return len(self._all)

    def recognise(self, origin: Origin, model: str, text: Text) -> Document:
        """The document a request belongs to (a new one when it matches none), made the most
        recently used; a typed request makes it the most recently typed too."""
        scope = f"{origin.client}\0{origin.route}\0{model}"
        lines, context = fingerprint(text)
        if origin.name:
            document = self._named.get((scope, origin.name))
            if document is None:
                document = self._add(scope, model, (scope, origin.name))
        else:
            found = self._match(scope, text.typed, lines, context)
            document = found or self._add(scope, model)
            if text.typed:
                document.lines = lines
            if context:
                document.context = context
        if text.typed:
            document.typed_at = next(self._tick)
        self._all.move_to_end(document.key)
        self._scopes[scope].move_to_end(document.key)
        return document

    def enter(self, document: Document, exclusive: bool) -> Ticket:
        """A ticket for a new request of ``document``; an exclusive one supersedes the
        document's exclusive request still running."""
        ticket = Ticket(document, exclusive)
        document.running += 1
        if exclusive:
            older = document.current
            if older is not None:
                older.superseded.set()
                self.superseded_total += 1
            document.current = ticket
        return ticket

    def leave(self, ticket: Ticket) -> None:
        document = ticket.document
        if document is None:
            return
        document.running -= 1
        if document.current is ticket:
            document.current = None

    def remember(self, document: Document, memory: Memory) -> None:
        layout = tuple(chunk_id[:MAX_ID] for chunk_id in memory.layout[:MAX_LAYOUT])
        document.memory = Memory(layout, memory.own_tokens)

    def _match(
        self, scope: str, typed: bool, lines: frozenset[int], context: frozenset[int]
    ) -> Document | None:
        """The scope's document this text belongs to: typed text by its lines (a document
        never typed in, only warmed up, by its context); a warm-up by its context."""
        best: Document | None = None
        best_share = 0.0
        for document in reversed(self._scopes.get(scope, {}).values()):  # most recent first
            if typed and document.lines and not lines:
                continue  # an empty file is not another file of the same editor
            if typed and lines and document.lines:
                share, enough = _share(lines, document.lines), SAME
            else:
                share, enough = _share(context, document.context), SAME_CONTEXT
            if share >= enough and share > best_share:
                best, best_share = document, share
        return best

    def _add(self, scope: str, model: str, name: tuple[str, str] | None = None) -> Document:
        document = Document(f"doc-{next(self._ids)}", scope, model)
        self._all[document.key] = document
        documents = self._scopes.setdefault(scope, OrderedDict())
        documents[document.key] = document
        if name is not None:
            self._named[name] = document
            self._names[document.key] = name
        if len(documents) > RECENT:
            self._forget(next(iter(documents.values())))
        while len(self._all) > self.capacity:
            self._forget(next(iter(self._all.values())))
        return document

    def _forget(self, document: Document) -> None:
        self._all.pop(document.key, None)
        documents = self._scopes.get(document.scope)
        if documents is not None:
            documents.pop(document.key, None)
            if not documents:
                del self._scopes[document.scope]
        name = self._names.pop(document.key, None)
        if name is not None:
            self._named.pop(name, None)
        self.placement.release(document)
