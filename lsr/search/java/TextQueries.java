package lsr.lucene;

import java.io.IOException;
import org.apache.lucene.search.Query;

/** Builds the Lucene query of a query text, so that a search is one call from Python: text in, hits out. */
public interface TextQueries {
  /** The query for {@code text} over {@code field}, or null when nothing can match. */
  Query query(TopKSearcher searcher, String field, String text) throws IOException;
}
