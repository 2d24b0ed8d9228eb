"""Each tenant's help centre: import it, search it (fielded BM25 + dense vectors), cite it.

`importers` read folders and vendor exports into articles; `Importer` publishes a tenant's
new version atomically to the `KnowledgeStore` (Redis); every process searches its own
in-memory copy through `IndexCache` and `Searcher`, refreshed when an import lands.
"""

from shared.knowledge.cache import IndexCache
from shared.knowledge.embed import Embedder, build_embedder
from shared.knowledge.importer import Importer, ImportSummary
from shared.knowledge.importers import FORMATS, read_source
from shared.knowledge.model import Article, Section, Skip
from shared.knowledge.search import Hit, SearchConfig, Searcher
from shared.knowledge.store import KnowledgeStore

__all__ = [
    "FORMATS",
    "Article",
    "Embedder",
    "Hit",
    "ImportSummary",
    "Importer",
    "IndexCache",
    "KnowledgeStore",
    "SearchConfig",
    "Searcher",
    "Section",
    "Skip",
    "build_embedder",
    "read_source",
]
