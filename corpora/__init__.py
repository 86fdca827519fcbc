"""Corpus readers: each module parses one corpus's own layout into AudioRecords.

Importing the package registers every reader (see corpora.registry)."""
from corpora.record import AudioRecord, CorpusListing, ReaderProblem
from corpora.registry import list_corpora, read_corpus, register_corpus

__all__ = ["AudioRecord", "CorpusListing", "ReaderProblem", "list_corpora", "read_corpus", "register_corpus"]
