"""Corpus readers: each module parses one corpus's own layout into AudioRecords.

Importing the package registers every reader (see corpora.registry)."""
from corpora.record import AudioRecord, CorpusListing, ReaderProblem
from corpora.registry import list_corpora, read_corpus, register_corpus

# Imported for their registration side effect only (timm-style: the package __init__ imports
# every registering module), so read_corpus("ravdess", ...) works after `import corpora`.
from corpora import crema_d, emodb, emovo, esd, generic, iemocap, jl_corpus, meld, mlend, ravdess, savee, tess, urdu  # noqa: E402,F401  isort: skip

__all__ = ["AudioRecord", "CorpusListing", "ReaderProblem", "list_corpora", "read_corpus", "register_corpus"]
