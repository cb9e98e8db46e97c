"""The Chroma vector store: embedded PersistentClient by default, a Chroma server via CHROMA_HOST/PORT."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
JOINT, PHOTOS = "", "_photos"  # collection suffixes: joint-space vectors, raw photo features
# How a filtered search reaches the matching products when the unfiltered pool holds too few of them
# (measured by `make bench-scale`; at 100k products: HNSW top-3,000 22 ms; Chroma searching 20k named
# ids 22 ms, 85k ids 60 ms, but 300 ids 70-80 ms; fetching vectors 40 us a product; `where` 0.2-1 s):
EXACT_LIMIT = 300  # at most this many: fetch their vectors and rank them exactly here (at 8.5k, 1,000 made composed p50 +10 ms)
OVERFETCH_LIMIT = 3_000  # else ask HNSW for ~2k/selectivity unfiltered neighbours, when that is at most this
ID_FILTER_LIMIT = 100_000  # else Chroma searches the matching products named by id, up to this many
# and above that, Chroma filters with a `where` clause itself


class IndexUnavailable(RuntimeError):
    """The vector store cannot be reached (a Chroma server down, say)."""


@dataclass(frozen=True)
class Hit:
    id: str
    score: float  # cosine similarity
    metadata: dict


@dataclass(frozen=True)
class Filters:
    """Hard constraints on results. Lists mean "any of"."""

    min_price: float | None = None
    max_price: float | None = None
    gender: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    article_type: tuple[str, ...] = ()
    colour: tuple[str, ...] = ()
    brand: tuple[str, ...] = ()
    usage: tuple[str, ...] = ()
    exclude_brand: tuple[str, ...] = ()
    exclude_colour: tuple[str, ...] = ()
    exclude_ids: tuple[str, ...] = ()

    def where(self) -> dict | None:
        """The Chroma `where` clause for these filters."""
        clauses: list[dict] = []
        if self.min_price is not None:
            clauses.append({"sale_price": {"$gte": float(self.min_price)}})
        if self.max_price is not None:
            clauses.append({"sale_price": {"$lte": float(self.max_price)}})
            clauses.append({"sale_price": {"$gte": 0.0}})  # unknown price never passes a budget
        for key, values in (("gender", self.gender), ("category", self.category),
                            ("article_type", self.article_type), ("base_colour", self.colour),
                            ("brand", self.brand), ("usage", self.usage)):
            if values:
                clauses.append({key: {"$in": list(values)}})
        for key, values in (("brand", self.exclude_brand), ("base_colour", self.exclude_colour)):
            if values:
                clauses.append({key: {"$nin": list(values)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def matches(self, meta: dict) -> bool:
        """The same test as `where()`, on one product's metadata."""
        price = meta.get("sale_price", -1.0)
        if self.min_price is not None and not price >= self.min_price:
            return False
        if self.max_price is not None and not (0.0 <= price <= self.max_price):
            return False
        for key, values in (("gender", self.gender), ("category", self.category),
                            ("article_type", self.article_type), ("base_colour", self.colour),
                            ("brand", self.brand), ("usage", self.usage)):
            if values and meta.get(key) not in values:
                return False
        return not ((self.exclude_brand and meta.get("brand") in self.exclude_brand)
                    or (self.exclude_colour and meta.get("base_colour") in self.exclude_colour))

    def mask(self, cols: Columns) -> np.ndarray:
        """The same test as `matches()`, on every indexed product at once (a boolean array)."""
        keep = np.ones(len(cols.ids), bool)
        if self.min_price is not None:
            keep &= cols.price >= self.min_price
        if self.max_price is not None:
            keep &= (cols.price >= 0.0) & (cols.price <= self.max_price)
        for key, values, wanted in (("gender", self.gender, True), ("category", self.category, True),
                                    ("article_type", self.article_type, True), ("base_colour", self.colour, True),
                                    ("brand", self.brand, True), ("usage", self.usage, True),
                                    ("brand", self.exclude_brand, False), ("base_colour", self.exclude_colour, False)):
            if values:
                codes = [cols.codes[key][v] for v in values if v in cols.codes[key]]
                hit = np.isin(cols.facets[key], codes)
                keep &= hit if wanted else ~hit
        return keep

    def active(self) -> bool:
        return self.where() is not None or bool(self.exclude_ids)


class Columns:
    """The cached metadata as arrays (price, and a code per facet value), for filtering every product
    in one vectorised pass instead of a Python loop."""

    FIELDS = ("gender", "category", "article_type", "base_colour", "brand", "usage")

    def __init__(self, meta: dict[str, dict]) -> None:
        self.ids = np.array(list(meta), dtype=object)
        self.price = np.array([float(m.get("sale_price", -1.0)) for m in meta.values()], np.float64)
        self.codes: dict[str, dict[str, int]] = {}
        self.facets: dict[str, np.ndarray] = {}
        for key in self.FIELDS:
            codes = self.codes.setdefault(key, {})
            self.facets[key] = np.array([codes.setdefault(m.get(key) or "", len(codes)) for m in meta.values()],
                                        np.int32)


def _unit(x: np.ndarray) -> np.ndarray:
    """Rows (or one vector) scaled to unit length: their dot products are cosine similarities."""
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _client(path: str | Path | None, host: str = "", port: int = 8000):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if host:
            return chromadb.HttpClient(host=host, port=int(port), settings=settings)
        Path(path or "data/index").mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=settings)
    except Exception as e:  # chromadb raises plain Exception/ValueError when a server is unreachable
        where = f"at {host}:{port}" if host else f"in {path}"
        raise IndexUnavailable(f"search is unavailable: cannot reach the vector store {where} ({e})") from None


class ProductIndex:
    """Two Chroma collections over the same products: joint-space vectors (text, fused queries) and
    raw photo features (finding the very product from a photo). Vectors are ours; no embedding
    function is attached."""

    def __init__(self, path: str | Path | None = None, host: str = "", port: int = 8000,
                 prefix: str = "products") -> None:
        self.path, self.host, self.port, self.prefix = path, host, port, prefix
        self._collections: dict[str, object] = {}
        self._meta: dict[str, dict] | None = None
        self._last: tuple[tuple | None, list[tuple[str, float]]] = (None, [])
        self._columns: Columns | None = None
        self._stranded: dict[str, tuple[list[str], np.ndarray]] = {}
        self.client = _client(path, host, port)

    def _collection(self, suffix: str):
        if suffix not in self._collections:
            try:
                col = self.client.get_or_create_collection(
                    self.prefix + suffix, embedding_function=None,
                    configuration={"hnsw": {"space": "cosine", "ef_construction": 200, "ef_search": 200}})
            except Exception as e:
                raise IndexUnavailable(f"search is unavailable: the vector store {self._where()} did not answer "
                                       f"({type(e).__name__}: {e})") from None
            self._collections[suffix] = col
        return self._collections[suffix]

    def _stranded_rows(self, suffix: str) -> tuple[list[str], np.ndarray]:
        """The rows of one collection its vector index cannot reach, with their unit vectors; every search
        scores them exactly beside Chroma's answer. Chroma's HNSW graph can leave a stored row that no edge
        leads to: its neighbour selection drops links to a point nearly identical to one already linked (the
        same photo listed twice, a product retitled), and chromadb 1.5's rebuild from its write log at opening
        now and then drops an element after updates and deletes. Writing such a row again does not reliably
        link it (measured: as often more rows strand as fewer). Found with one query for every row, once per
        opening (`find_stranded`) and again after this process writes; reading only: opening never writes."""
        if suffix not in self._stranded:
            col = self._collection(suffix)
            names: list[str] = []
            vectors = np.zeros((0, 0), np.float32)
            if n := col.count():
                probe = col.get(limit=1, include=["embeddings"])["embeddings"][0]
                found = set(col.query(query_embeddings=[np.asarray(probe, np.float32).tolist()], n_results=n,
                                      include=[])["ids"][0])
                if len(found) < n:
                    stored: list[str] = []
                    while len(got := col.get(include=[], limit=5000, offset=len(stored))["ids"]):
                        stored += got
                    got = col.get(ids=sorted(set(stored) - found), include=["embeddings"])
                    names, vectors = list(got["ids"]), _unit(np.asarray(got["embeddings"], np.float32))
                    log.warning("the vector index %s cannot reach %d of its %d rows in %s; they are searched "
                                "exactly", self._where(), len(names), n, col.name)
            self._stranded[suffix] = (names, vectors)
        return self._stranded[suffix]

    def find_stranded(self) -> None:
        """Look for the rows neither collection's vector index can reach now (`_stranded_rows`): at start-up and
        after an ingest, so that no shopper's search pays for the look (0.4 s at 8.5k products)."""
        self._call(lambda: [self._stranded_rows(suffix) for suffix in (JOINT, PHOTOS)])

    def _call(self, fn, *args, **kwargs):
        """Run a store call; a lost connection becomes IndexUnavailable and is retried next time."""
        try:
            return fn(*args, **kwargs)
        except (ValueError, TypeError):
            raise
        except Exception as e:
            self._collections.clear()
            self._stranded.clear()
            if self.host:
                with contextlib.suppress(IndexUnavailable):
                    self.client = _client(self.path, self.host, self.port)
            if isinstance(e, IndexUnavailable):  # already says what happened
                raise
            raise IndexUnavailable(f"search is unavailable: the vector store {self._where()} did not answer "
                                   f"({type(e).__name__})") from None

    def _where(self) -> str:
        return f"at {self.host}:{self.port}" if self.host else f"in {self.path}"

    def count(self) -> int:
        return self._call(lambda: self._collection(JOINT).count())

    def ids(self, photos: bool = False) -> set[str]:
        """Every id in one collection, read from the store (a killed ingest can leave photo rows whose
        joint row never landed; those are not indexed products, but pruning must see them)."""
        def get_all() -> set[str]:
            out: set[str] = set()
            col = self._collection(PHOTOS if photos else JOINT)
            while True:
                got = col.get(include=[], limit=5000, offset=len(out))
                out.update(got["ids"])
                if len(got["ids"]) < 5000:
                    return out
        return self._call(get_all)

    def hashes(self) -> dict[str, str]:
        """id → content hash of every product in the index (what ingest compares against)."""
        self.refresh()
        return {i: m.get("hash", "") for i, m in self.metadata().items()}

    def upsert(self, ids: Sequence[str], joint: np.ndarray, photos: np.ndarray, metadatas: Sequence[dict]) -> None:
        """Photos first, joint last: a product counts as indexed once its joint row (with its hash) is in."""
        def do() -> None:
            for s in range(0, len(ids), 1000):
                sl = slice(s, s + 1000)
                self._collection(PHOTOS).upsert(ids=list(ids[sl]), embeddings=photos[sl].tolist(),
                                                metadatas=list(metadatas[sl]))
                self._collection(JOINT).upsert(ids=list(ids[sl]), embeddings=joint[sl].tolist(),
                                               metadatas=list(metadatas[sl]))
        self._call(do)
        self._changed()
        if self._meta is not None:
            self._meta.update(zip(ids, metadatas, strict=True))

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            def do() -> None:
                for suffix in (JOINT, PHOTOS):
                    self._collection(suffix).delete(ids=list(ids))
            self._call(do)
            self._changed()
            if self._meta is not None:
                for i in ids:
                    self._meta.pop(i, None)

    def metadata(self) -> dict[str, dict]:
        """id → metadata of every indexed product, read once and kept in memory (refresh() re-reads)."""
        if self._meta is None:
            def get_all() -> dict[str, dict]:
                out, offset, col = {}, 0, self._collection(JOINT)
                while True:
                    got = col.get(include=["metadatas"], limit=5000, offset=offset)
                    out.update({i: m or {} for i, m in zip(got["ids"], got["metadatas"], strict=True)})
                    if len(got["ids"]) < 5000:
                        return out
                    offset += 5000
            self._meta = self._call(get_all)
        return self._meta

    def refresh(self) -> None:
        self._meta = None
        self._changed()

    def _changed(self) -> None:
        self._last, self._columns = (None, []), None
        self._stranded.clear()

    def columns(self) -> Columns:
        if self._columns is None:
            self._columns = Columns(self.metadata())
        return self._columns

    def _nearest(self, vector: np.ndarray, n: int, filters: Filters | None, photos: bool,
                 ids: list[str] | None = None) -> list[tuple[str, float]]:
        """The n nearest rows by Chroma's vector index (passing `filters`, among `ids` when given), with the
        rows it cannot reach scored exactly and merged in."""
        where = filters.where() if filters is not None else None
        key = (np.asarray(vector, np.float32).tobytes(), n, photos) if where is None and ids is None else None
        if key is not None and self._last[0] == key:  # one search asks twice for the same neighbours
            return self._last[1]
        suffix = PHOTOS if photos else JOINT

        def do() -> list[tuple[str, float]]:
            res = self._collection(suffix).query(
                query_embeddings=[np.asarray(vector, np.float32).tolist()], n_results=n, where=where, ids=ids,
                include=["distances"])
            found = [(i, 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0], strict=True)]
            names, vectors = self._stranded_rows(suffix)
            if not names:
                return found
            meta, allowed, seen = self.metadata(), set(ids) if ids is not None else None, {i for i, _ in found}
            sims = vectors @ _unit(np.asarray(vector, np.float32))
            extra = [(i, float(sim)) for i, sim in zip(names, sims, strict=True)
                     if i not in seen and (allowed is None or i in allowed)
                     and (where is None or (i in meta and filters.matches(meta[i])))]
            return sorted(found + extra, key=lambda hit: -hit[1])[:n]
        found = self._call(do)
        if key is not None:
            self._last = (key, found)
        return found

    def query(self, vector: np.ndarray, k: int, filters: Filters | None = None, photos: bool = False,
              pool: int = 0) -> list[Hit]:
        """The k nearest products that pass `filters`, by cosine similarity.

        Fast path: one unfiltered nearest-neighbour query over `pool` products, filtered against the
        cached metadata (Chroma's metadata fetch and `where` filtering cost 10x the vector search).
        When that finds fewer than k, the matching products are found by a vectorised pass over the
        cached metadata and reached the cheapest way for how many they are (see EXACT_LIMIT and below)."""
        meta = self.metadata()
        n_all = len(meta)
        if n_all == 0 or k <= 0:
            return []
        filters = filters or Filters()
        excluded = set(filters.exclude_ids)

        def keep(found: list[tuple[str, float]]) -> list[Hit]:
            # only products whose joint row is in count (a photo row alone is a half-written product)
            return [Hit(i, s, meta[i]) for i, s in found if i in meta and i not in excluded and filters.matches(meta[i])]
        fast = self._nearest(vector, min(n_all, max(pool, k + len(excluded))), None, photos)
        hits = keep(fast)
        known = sum(i in meta for i, _ in fast)
        if len(hits) >= k or known >= n_all or not (filters.active() or known < len(fast)):
            return hits[:k]
        cols = self.columns()
        allowed = cols.ids[filters.mask(cols)].tolist()
        if excluded:
            allowed = [i for i in allowed if i not in excluded]
        if len(allowed) <= len(hits):
            return hits[:k]
        want = min(k, len(allowed))
        if len(allowed) <= EXACT_LIMIT:
            return keep(self._exact(vector, want, allowed, photos))
        # how many nearest neighbours hold `want` matching ones, at twice the share that passed in the pool
        wide = min(n_all, 2 * want * (len(fast) + 1) // (len(hits) + 1) + len(excluded))
        if len(fast) < wide <= OVERFETCH_LIMIT:
            hits = keep(self._nearest(vector, wide, None, photos))
            if len(hits) >= want:
                return hits[:k]
        if len(allowed) <= ID_FILTER_LIMIT:
            found = self._nearest(vector, want, None, photos, ids=allowed)
        else:
            found = self._nearest(vector, min(n_all, k + len(excluded)), filters, photos)
        return keep(found)[:k]

    def _exact(self, vector: np.ndarray, k: int, ids: list[str], photos: bool) -> list[tuple[str, float]]:
        """The k of `ids` nearest to `vector`, ranked here by exact cosine similarity on their stored vectors."""
        got = self._call(lambda: self._collection(PHOTOS if photos else JOINT).get(ids=ids, include=["embeddings"]))
        if not len(got["ids"]):
            return []
        names = got["ids"]
        sims = _unit(np.asarray(got["embeddings"], np.float32)) @ _unit(np.asarray(vector, np.float32))
        top = np.argsort(-sims, kind="stable")[:k]
        return [(names[n], float(sims[n])) for n in top]

    def get(self, ids: Sequence[str], vectors: bool = False, photos: bool = False) -> dict[str, tuple[dict, np.ndarray | None]]:
        """Metadata (and optionally vectors) of the given products."""
        include = ["metadatas", "embeddings"] if vectors else ["metadatas"]

        def do() -> dict[str, tuple[dict, np.ndarray | None]]:
            got = self._collection(PHOTOS if photos else JOINT).get(ids=list(ids), include=include)
            embs = got.get("embeddings") if vectors else None
            return {i: (m or {}, np.asarray(embs[n], np.float32) if embs is not None else None)
                    for n, (i, m) in enumerate(zip(got["ids"], got["metadatas"], strict=True))}
        return self._call(do) if ids else {}

    def sample(self, n: int) -> list[tuple[str, dict]]:
        got = self._call(lambda: self._collection(JOINT).get(limit=n, include=["metadatas"]))
        return list(zip(got["ids"], got["metadatas"], strict=True))

    def facet_values(self) -> dict[str, dict[str, int]]:
        """Every facet value in the index with its count (the catalog's own vocabulary)."""
        from .catalog import FACETS

        out: dict[str, dict[str, int]] = {f: {} for f in FACETS}
        for m in self.metadata().values():
            for f in FACETS:
                if m.get(f):
                    out[f][m[f]] = out[f].get(m[f], 0) + 1
        return out
