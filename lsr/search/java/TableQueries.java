package lsr.lucene;

import java.io.IOException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import io.anserini.analysis.AnalyzerUtils;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.search.Query;

/**
 * Inference-free queries built in one JNI call: {@link WordPiece} tokens, each distinct token weighted
 * from a table (IDF or learned), quantised to integer boosts and pruned, then turned into the impact
 * query that {@link TopKSearcher#weightedQuery} builds. It is the Java twin of lsr's Python path
 * ({@code TableQueryEncoder.encode}, {@code quantise_weights}, {@code prune_weights}), which tests
 * compare it with: the first {@code maxTokens} tokens; tokens without a positive weight dropped;
 * {@code round(weight x scale)} with ties to even; non-positive results dropped; then, when pruning,
 * the {@code topK} heaviest (ties: first seen) of those weighing at least {@code minRatio} x the
 * heaviest, heaviest first. With a BM25 channel ({@code LexicalQueryEncoder} in Python), the text's
 * terms under {@code lexicalAnalyzer} follow the WordPiece ones, as {@code |term} weighing
 * {@code count x idf}, before quantisation and pruning.
 */
public final class TableQueries implements TextQueries {
  /** A query's terms and integer weights, in the order they enter the Lucene query. */
  public static final class Weighted {
    public final String[] terms;
    public final float[] weights;

    Weighted(String[] terms, float[] weights) {
      this.terms = terms;
      this.weights = weights;
    }
  }

  /** The prefix of the BM25 channel's terms ({@code lsr.encoders.lexical.PREFIX}). */
  public static final String LEXICAL_PREFIX = "|";

  private final WordPiece tokenizer;
  private final Map<String, Double> table;
  private final double scale;
  private final int maxTokens;
  private final int topK;
  private final double minRatio;
  private final Analyzer lexicalAnalyzer;
  private final Map<String, Double> lexicalTable;

  /**
   * {@code terms} joined by {@code separator} with their {@code weights}; {@code topK} 0 keeps every
   * term, {@code minRatio} 0 keeps every weight.
   */
  public TableQueries(WordPiece tokenizer, String terms, String separator, double[] weights, double scale, int maxTokens,
                      int topK, double minRatio) {
    this(tokenizer, terms, separator, weights, scale, maxTokens, topK, minRatio, null, "", new double[0]);
  }

  /** The same with a BM25 channel: {@code lexicalTerms} (joined by {@code separator}) and their idf {@code lexicalWeights}. */
  public TableQueries(WordPiece tokenizer, String terms, String separator, double[] weights, double scale, int maxTokens,
                      int topK, double minRatio, Analyzer lexicalAnalyzer, String lexicalTerms, double[] lexicalWeights) {
    this.tokenizer = tokenizer;
    this.table = table(terms, separator, weights);
    this.scale = scale;
    this.maxTokens = maxTokens;
    this.topK = topK;
    this.minRatio = minRatio;
    this.lexicalAnalyzer = lexicalAnalyzer;
    this.lexicalTable = table(lexicalTerms, separator, lexicalWeights);
  }

  private static Map<String, Double> table(String terms, String separator, double[] weights) {
    String[] split = terms.isEmpty() ? new String[0] : terms.split(Pattern.quote(separator), -1);
    if (split.length != weights.length) {
      throw new IllegalArgumentException(split.length + " terms but " + weights.length + " weights");
    }
    Map<String, Double> table = new HashMap<>(split.length * 2);
    for (int i = 0; i < split.length; i++) {
      table.put(split[i], weights[i]);
    }
    return table;
  }

  /** The query's terms and integer weights after quantisation and pruning (empty when nothing matches). */
  public Weighted encode(String text) {
    List<String> tokens = tokenizer.tokenize(text);
    Map<String, Integer> quantised = new LinkedHashMap<>();
    for (String token : tokens.subList(0, Math.min(tokens.size(), maxTokens))) {
      Double weight = table.get(token);
      if (weight != null && weight > 0 && !quantised.containsKey(token)) {
        long rounded = (long) Math.rint(weight * scale);
        if (rounded > 0) {
          quantised.put(token, (int) rounded);
        }
      }
    }
    if (lexicalAnalyzer != null) {
      Map<String, Integer> counts = new LinkedHashMap<>();
      for (String term : AnalyzerUtils.analyze(lexicalAnalyzer, text)) {
        counts.merge(term, 1, Integer::sum);
      }
      for (Map.Entry<String, Integer> entry : counts.entrySet()) {
        Double idf = lexicalTable.get(entry.getKey());
        if (idf != null && idf > 0) {
          long rounded = (long) Math.rint(entry.getValue() * idf * scale);
          if (rounded > 0) {
            quantised.put(LEXICAL_PREFIX + entry.getKey(), (int) rounded);
          }
        }
      }
    }
    String[] terms = quantised.keySet().toArray(new String[0]);
    if (terms.length > 0 && (topK > 0 || minRatio > 0)) {
      Arrays.sort(terms, (a, b) -> Integer.compare(quantised.get(b), quantised.get(a)));  // stable
      double floor = minRatio * quantised.get(terms[0]);
      int kept = 0;
      while (kept < terms.length && (topK <= 0 || kept < topK) && quantised.get(terms[kept]) >= floor) {
        kept++;
      }
      terms = Arrays.copyOf(terms, kept);
    }
    float[] weights = new float[terms.length];
    for (int i = 0; i < terms.length; i++) {
      weights[i] = quantised.get(terms[i]);
    }
    return new Weighted(terms, weights);
  }

  /** The impact query for {@code text} over {@code field}, or null when no term is left. */
  @Override
  public Query query(TopKSearcher searcher, String field, String text) throws IOException {
    Weighted weighted = encode(text);
    return weighted.terms.length == 0 ? null : searcher.weightedQuery(field, weighted.terms, weighted.weights);
  }
}
