package lsr.lucene;

import io.anserini.analysis.AnalyzerUtils;
import io.anserini.search.query.BagOfWordsQueryGenerator;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.search.Query;

/** BM25's queries as Anserini builds them: the analyzer's terms of the text, as a bag of words. */
public final class BagOfWords implements TextQueries {
  private final Analyzer analyzer;
  private final BagOfWordsQueryGenerator generator = new BagOfWordsQueryGenerator();

  /** Queries analysed by {@code analyzer} (Anserini's default English analyzer for its BM25 indexes). */
  public BagOfWords(Analyzer analyzer) {
    this.analyzer = analyzer;
  }

  /** The terms {@code analyzer} makes of {@code text}, in order, joined by single spaces (no term holds whitespace). */
  public static String terms(Analyzer analyzer, String text) {
    return String.join(" ", AnalyzerUtils.analyze(analyzer, text));
  }

  @Override
  public Query query(TopKSearcher searcher, String field, String text) {
    return generator.buildQuery(field, analyzer, text);
  }
}
