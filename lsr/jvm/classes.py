"""Thin pyjnius declarations of the Java classes lsr calls per query or per document (lsr's Lucene helper, Lucene),
and Anserini's English analysis."""

from __future__ import annotations

from functools import lru_cache

from lsr.jvm import jclass

LUCENE = "org/apache/lucene"  # Lucene's package path in JNI signatures
TEXT_QUERY = f"(Llsr/lucene/TopKSearcher;Ljava/lang/String;Ljava/lang/String;)L{LUCENE}/search/Query;"  # TextQueries.query


@lru_cache(maxsize=1)
def declared():
    """Thin pyjnius declarations of the few Java methods used per query.

    ``jnius.autoclass`` reflects over every method of a class and its ancestors, which costs
    hundreds of milliseconds for IndexSearcher or Jackson's ObjectMapper at start-up; declaring the
    signatures used here skips that (and picks the right overloads, which pyjnius may not). Only
    Lucene, Anserini and Jackson classes are declared: ``jclass`` returns a declared class too, so a
    JDK class declared here would lose its other methods for every caller in the process.
    """
    from types import SimpleNamespace

    jclass("java.lang.Object")  # starts the JVM (importing jnius first would start it without lsr's classpath)
    from jnius import JavaClass, JavaField, JavaMethod, JavaStaticMethod, MetaJavaClass

    class FSDirectory(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = f"{LUCENE}/store/FSDirectory"
        open = JavaStaticMethod(f"(Ljava/nio/file/Path;)L{LUCENE}/store/FSDirectory;")

    class DirectoryReader(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = f"{LUCENE}/index/DirectoryReader"
        open = JavaStaticMethod(f"(L{LUCENE}/store/Directory;)L{LUCENE}/index/DirectoryReader;")
        numDocs = JavaMethod("()I")
        close = JavaMethod("()V")

    class Query(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = f"{LUCENE}/search/Query"

    class IndexSearcher(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = f"{LUCENE}/search/IndexSearcher"
        __javaconstructor__ = [(f"(L{LUCENE}/index/IndexReader;)V", False)]
        setSimilarity = JavaMethod(f"(L{LUCENE}/search/similarities/Similarity;)V")
        search = JavaMethod(f"(L{LUCENE}/search/Query;I)L{LUCENE}/search/TopDocs;")
        explain = JavaMethod(f"(L{LUCENE}/search/Query;I)L{LUCENE}/search/Explanation;")

    class BagOfWords(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "lsr/lucene/BagOfWords"
        __javaconstructor__ = [(f"(L{LUCENE}/analysis/Analyzer;)V", False)]
        terms = JavaStaticMethod(f"(L{LUCENE}/analysis/Analyzer;Ljava/lang/String;)Ljava/lang/String;")
        query = JavaMethod(TEXT_QUERY)

    class WordPiece(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "lsr/lucene/WordPiece"
        __javaconstructor__ = [("(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;IZZZZ)V", False)]
        tokens = JavaMethod("(Ljava/lang/String;)[Ljava/lang/String;")

    class Weighted(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "lsr/lucene/TableQueries$Weighted"
        terms = JavaField("[Ljava/lang/String;")
        weights = JavaField("[F")

    class TableQueries(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "lsr/lucene/TableQueries"
        __javaconstructor__ = [("(Llsr/lucene/WordPiece;Ljava/lang/String;Ljava/lang/String;[DDIID)V", False),
                               (f"(Llsr/lucene/WordPiece;Ljava/lang/String;Ljava/lang/String;[DDIID"
                                f"L{LUCENE}/analysis/Analyzer;Ljava/lang/String;[D)V", False)]
        encode = JavaMethod("(Ljava/lang/String;)Llsr/lucene/TableQueries$Weighted;")
        query = JavaMethod(TEXT_QUERY)

    class Hits(JavaClass, metaclass=MetaJavaClass):
        __javaclass__ = "lsr/lucene/TopKSearcher$Hits"
        __javaconstructor__ = [("([Ljava/lang/String;[F)V", False)]
        docids = JavaField("[Ljava/lang/String;")
        scores = JavaField("[F")
        joinedDocids = JavaMethod("(Ljava/lang/String;)Ljava/lang/String;")

    return SimpleNamespace(**{name: value for name, value in locals().items() if isinstance(value, type)})


def english_analyzer():
    """Anserini's default English analyzer (lowercasing, stopwords, Porter stemming): its BM25 indexes' analysis."""
    return jclass("io.anserini.analysis.DefaultEnglishAnalyzer").newDefaultInstance()


def english_terms():
    """A function text -> the terms of Anserini's default English analyzer (its BM25 indexes' analysis), in order."""
    bag_of_words, analyzer = declared().BagOfWords, english_analyzer()
    return lambda text: bag_of_words.terms(analyzer, text).split()
