package lsr.lucene;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import org.apache.lucene.index.BinaryDocValues;
import org.apache.lucene.index.DocValues;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.PostingsEnum;
import org.apache.lucene.index.Term;
import org.apache.lucene.index.TermState;
import org.apache.lucene.index.TermStates;
import org.apache.lucene.index.Terms;
import org.apache.lucene.index.TermsEnum;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.BoostQuery;
import org.apache.lucene.search.Collector;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.LeafCollector;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.Scorable;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.ScoreMode;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.util.BytesRef;
import org.apache.lucene.util.PriorityQueue;

/**
 * Exact top-k search with Anserini's ordering (score descending, ties by collection docid ascending)
 * that lets Lucene skip documents which cannot enter the top k (block-max WAND / MaxScore).
 *
 * <p>Anserini sorts hits with {@code Sort(FIELD_SCORE, SortField("id", STRING_VAL))}: a field sort,
 * so Lucene scores every matching document and reads the id doc values of every tie. Here the
 * collector asks for {@code ScoreMode.TOP_SCORES} and breaks ties on the collection ids, read once
 * per index into an array, so the same hits come back in the same order while the scorer skips
 * blocks whose maximum impact cannot beat the k-th hit. Scores get Anserini's
 * {@code ScoreTiesAdjusterReranker} treatment (rounded to 1e-4, ties lowered by 1e-6 each), and the
 * hits cross back to Python as two arrays.
 */
public final class TopKSearcher {
  /** The hits of one search, best first: collection ids and scores. */
  public static final class Hits {
    public final String[] docids;
    public final float[] scores;

    public Hits(String[] docids, float[] scores) {
      this.docids = docids;
      this.scores = scores;
    }

    /**
     * The ids joined by {@code separator}: one string to cross JNI instead of one call per hit
     * (through pyjnius, a String[] of 1,000 ids costs about as much as the search itself).
     */
    public String joinedDocids(String separator) {
      return String.join(separator, docids);
    }
  }

  private static final int MAX_CACHED_TERMS = 1 << 20;

  private final IndexSearcher searcher;
  private final BytesRef[] ids;
  private final Map<Term, TermStates> termStates = new ConcurrentHashMap<>();

  /** Reads the collection id of every document from the {@code idField} doc values (binary or sorted). */
  public TopKSearcher(IndexSearcher searcher, String idField) throws IOException {
    this.searcher = searcher;
    IndexReader reader = searcher.getIndexReader();
    this.ids = new BytesRef[reader.maxDoc()];
    for (LeafReaderContext leaf : reader.leaves()) {
      BinaryDocValues values = binaryValues(leaf, idField);
      for (int doc = values.nextDoc(); doc != BinaryDocValues.NO_MORE_DOCS; doc = values.nextDoc()) {
        ids[leaf.docBase + doc] = BytesRef.deepCopyOf(values.binaryValue());
      }
    }
    for (int doc = 0; doc < ids.length; doc++) {
      if (ids[doc] == null) {
        ids[doc] = new BytesRef();  // deleted or id-less documents sort first among ties, as in Lucene's sort
      }
    }
  }

  private static BinaryDocValues binaryValues(LeafReaderContext leaf, String field) throws IOException {
    if (leaf.reader().getFieldInfos().fieldInfo(field) != null
        && leaf.reader().getFieldInfos().fieldInfo(field).getDocValuesType() == org.apache.lucene.index.DocValuesType.SORTED) {
      org.apache.lucene.index.SortedDocValues sorted = DocValues.getSorted(leaf.reader(), field);
      return new BinaryDocValues() {
        @Override public BytesRef binaryValue() throws IOException { return sorted.lookupOrd(sorted.ordValue()); }
        @Override public boolean advanceExact(int target) throws IOException { return sorted.advanceExact(target); }
        @Override public int docID() { return sorted.docID(); }
        @Override public int nextDoc() throws IOException { return sorted.nextDoc(); }
        @Override public int advance(int target) throws IOException { return sorted.advance(target); }
        @Override public long cost() { return sorted.cost(); }
      };
    }
    return DocValues.getBinary(leaf.reader(), field);
  }

  /**
   * A disjunction of {@code terms[i]} boosted by {@code weights[i]} (terms joined by {@code separator}),
   * as Anserini builds impact queries. Each term's dictionary lookup ({@link TermStates}) is kept for
   * the life of the searcher: impact queries come from a fixed vocabulary (a tokenizer's), so the cache
   * stays small and later queries skip the lookups.
   */
  public Query weightedQuery(String field, String terms, String separator, float[] weights) throws IOException {
    return weightedQuery(field, terms.split(Pattern.quote(separator), -1), weights);
  }

  /** {@link #weightedQuery(String, String, String, float[])} with the terms as an array. */
  public Query weightedQuery(String field, String[] terms, float[] weights) throws IOException {
    if (terms.length != weights.length) {
      throw new IllegalArgumentException(terms.length + " terms but " + weights.length + " weights");
    }
    BooleanQuery.Builder builder = new BooleanQuery.Builder();
    for (int i = 0; i < terms.length; i++) {
      Term term = new Term(field, terms[i]);
      builder.add(new BoostQuery(new TermQuery(term, termStates(term)), weights[i]), BooleanClause.Occur.SHOULD);
    }
    return builder.build();
  }

  /**
   * The terms of {@code field} found in more than {@code maxFraction} of the index's documents, joined by
   * {@code separator}: one walk over the term dictionary, for query-side pruning of the index's own
   * near-stopwords (the terms a document model spread over most of the corpus).
   */
  public String frequentTerms(String field, double maxFraction, String separator) throws IOException {
    IndexReader reader = searcher.getIndexReader();
    double limit = maxFraction * reader.numDocs();
    Map<String, Integer> counts = new TreeMap<>();
    for (LeafReaderContext leaf : reader.leaves()) {
      Terms terms = leaf.reader().terms(field);
      if (terms == null) {
        continue;
      }
      TermsEnum iterator = terms.iterator();
      for (BytesRef term = iterator.next(); term != null; term = iterator.next()) {
        counts.merge(term.utf8ToString(), iterator.docFreq(), Integer::sum);
      }
    }
    List<String> frequent = new ArrayList<>();
    counts.forEach((term, count) -> {
      if (count > limit) {
        frequent.add(term);
      }
    });
    return String.join(separator, frequent);
  }

  private TermStates termStates(Term term) throws IOException {
    TermStates states = termStates.get(term);
    if (states == null) {
      states = TermStates.build(searcher, term, true);
      if (termStates.size() < MAX_CACHED_TERMS) {
        termStates.put(term, states);
      }
    }
    return states;
  }

  /** The top {@code k} hits of the query that {@code queries} builds for {@code text} (none when it builds none). */
  public Hits search(TextQueries queries, String field, String text, int k) throws IOException {
    Query query = queries.query(this, field, text);
    return query == null ? new Hits(new String[0], new float[0]) : search(query, k);
  }

  /** The top {@code k} hits of {@code query}. Thread-safe: each call has its own collector. */
  public Hits search(Query query, int k) throws IOException {
    TopK collector = new TopK(Math.max(1, Math.min(k, ids.length)), ids);
    searcher.search(query, collector);
    return collector.hits();
  }

  /**
   * Two-phase search (as OpenSearch's {@code neural_sparse_two_phase_processor}): the query's heavy
   * terms, those weighing at least {@code ratio} x its heaviest, find the top {@code expansion} x
   * {@code k} candidates; the light terms' scores are then added to those candidates only (read from
   * the light terms' posting lists at the candidates), and the top {@code k} of them come back. Every returned score is the document's
   * full score (integer impacts and weights sum exactly in floats); a document that the heavy terms
   * leave out of the candidates is missed, which is the quality this trades for speed. The light
   * terms are the long lists of frequent tokens that cost MaxScore the most. Where the candidates would be more
   * than {@code wholeShare} of the index's documents (a small corpus, a deep k; 1: never), rescoring them costs as much
   * as searching every term, so the whole query is searched at once instead, which misses nothing.
   */
  public Hits twoPhase(String field, String[] terms, float[] weights, int k, double ratio, double expansion, double wholeShare)
      throws IOException {
    // terms that no document holds take no part: among the heavy ones (an unseen word gets the highest IDF)
    // they would find no candidates and push the query's real terms into the light ones
    boolean[] present = new boolean[terms.length];
    float heaviest = 0;
    for (int i = 0; i < terms.length; i++) {
      present[i] = termStates(new Term(field, terms[i])).docFreq() > 0;
      if (present[i]) {
        heaviest = Math.max(heaviest, weights[i]);
      }
    }
    List<Integer> heavy = new ArrayList<>();
    List<Integer> light = new ArrayList<>();
    for (int i = 0; i < terms.length; i++) {
      if (present[i]) {
        (weights[i] >= ratio * heaviest ? heavy : light).add(i);
      }
    }
    int depth = (int) Math.min(ids.length, Math.max(k, Math.ceil(expansion * k)));
    if (light.isEmpty() || depth > wholeShare * ids.length) {
      return search(weightedQuery(field, terms, weights), k);
    }
    ScoreDoc[] candidates = searcher.search(subQuery(field, terms, weights, heavy), depth).scoreDocs.clone();
    Arrays.sort(candidates, (a, b) -> Integer.compare(a.doc, b.doc));
    float[] lightScores = lightScores(field, terms, weights, light, candidates);
    TopK top = new TopK(Math.max(1, Math.min(k, ids.length)), ids);
    for (int i = 0; i < candidates.length; i++) {
      top.offer(candidates[i].doc, candidates[i].score + lightScores[i]);
    }
    return top.hits();
  }

  /**
   * The score of each of {@code candidates} (in docid order) on the {@code light} terms, read from those terms'
   * posting lists: per segment, one terms enum and one postings enum reused for every term, each positioned from
   * the cached term state and advanced to the candidates only. Lucene's {@code QueryRescorer} gets the same scores
   * through a Weight and a Scorer per term, whose set-up costs more than the reading at small k.
   */
  private float[] lightScores(String field, String[] terms, float[] weights, List<Integer> light, ScoreDoc[] candidates) throws IOException {
    float[] scores = new float[candidates.length];
    int first = 0;
    for (LeafReaderContext leaf : searcher.getIndexReader().leaves()) {
      int end = first;
      while (end < candidates.length && candidates[end].doc < leaf.docBase + leaf.reader().maxDoc()) {
        end++;
      }
      Terms fieldTerms = end > first ? leaf.reader().terms(field) : null;
      if (fieldTerms != null) {
        TermsEnum iterator = fieldTerms.iterator();
        PostingsEnum postings = null;
        for (int i : light) {
          Term term = new Term(field, terms[i]);
          TermState state = termStates(term).get(leaf);
          if (state == null) {
            continue;  // not in this segment
          }
          iterator.seekExact(term.bytes(), state);
          postings = iterator.postings(postings, PostingsEnum.FREQS);
          for (int c = first; c < end; c++) {
            int doc = candidates[c].doc - leaf.docBase;
            int at = postings.docID() < doc ? postings.advance(doc) : postings.docID();
            if (at == DocIdSetIterator.NO_MORE_DOCS) {
              break;
            }
            if (at == doc) {
              scores[c] += weights[i] * postings.freq();  // ImpactSimilarity: boost x stored impact
            }
          }
        }
      }
      first = end;
    }
    return scores;
  }

  /** {@link #twoPhase(String, String[], float[], int, double, double, double)} for the query that {@code queries} weighs for {@code text}. */
  public Hits twoPhase(TableQueries queries, String field, String text, int k, double ratio, double expansion, double wholeShare)
      throws IOException {
    TableQueries.Weighted weighted = queries.encode(text);
    return weighted.terms.length == 0 ? new Hits(new String[0], new float[0])
        : twoPhase(field, weighted.terms, weighted.weights, k, ratio, expansion, wholeShare);
  }

  /** {@link #twoPhase(String, String[], float[], int, double, double, double)} with the terms joined by {@code separator}. */
  public Hits twoPhase(String field, String terms, String separator, float[] weights, int k, double ratio, double expansion,
                       double wholeShare) throws IOException {
    return twoPhase(field, terms.split(Pattern.quote(separator), -1), weights, k, ratio, expansion, wholeShare);
  }

  private Query subQuery(String field, String[] terms, float[] weights, List<Integer> which) throws IOException {
    String[] someTerms = new String[which.size()];
    float[] someWeights = new float[which.size()];
    for (int i = 0; i < someTerms.length; i++) {
      someTerms[i] = terms[which.get(i)];
      someWeights[i] = weights[which.get(i)];
    }
    return weightedQuery(field, someTerms, someWeights);
  }

  private static final class Hit {
    int doc;
    float score;
  }

  /** Keeps the best hits under (score descending, id ascending) and raises the scorer's bar as it fills. */
  private static final class TopK implements Collector {
    private final PriorityQueue<Hit> queue;
    private final BytesRef[] ids;
    private final int capacity;
    private final Hit candidate = new Hit();
    private int size;

    TopK(int capacity, BytesRef[] ids) {
      this.capacity = capacity;
      this.ids = ids;
      this.queue = new PriorityQueue<>(capacity) {
        @Override
        protected boolean lessThan(Hit a, Hit b) {  // "a is worse than b": the worst hit sits on top
          return worse(a, b, ids);
        }
      };
    }

    /** Whether hit {@code a} ranks below hit {@code b}: a lower score, or the same score and a larger id. */
    static boolean worse(Hit a, Hit b, BytesRef[] ids) {
      return a.score < b.score || (a.score == b.score && ids[a.doc].compareTo(ids[b.doc]) > 0);
    }

    @Override
    public ScoreMode scoreMode() {
      return ScoreMode.TOP_SCORES;
    }

    @Override
    public LeafCollector getLeafCollector(LeafReaderContext context) {
      final int base = context.docBase;
      return new LeafCollector() {
        private Scorable scorer;

        @Override
        public void setScorer(Scorable scorer) throws IOException {
          this.scorer = scorer;
          if (size == capacity) {
            scorer.setMinCompetitiveScore(queue.top().score);  // ties may still win on their id
          }
        }

        @Override
        public void collect(int doc) throws IOException {
          if (offer(base + doc, scorer.score())) {
            scorer.setMinCompetitiveScore(queue.top().score);
          }
        }
      };
    }

    /** Keeps the hit if it ranks among the best so far; true when the queue is full and its worst hit changed. */
    boolean offer(int doc, float score) {
      if (size < capacity) {
        Hit hit = new Hit();
        hit.doc = doc;
        hit.score = score;
        queue.add(hit);
        return ++size == capacity;
      }
      candidate.doc = doc;
      candidate.score = score;
      Hit worst = queue.top();
      if (!worse(worst, candidate, ids)) {
        return false;
      }
      worst.doc = doc;
      worst.score = score;
      queue.updateTop();
      return true;
    }

    Hits hits() {
      int n = queue.size();
      String[] docids = new String[n];
      float[] scores = new float[n];
      for (int i = n - 1; i >= 0; i--) {
        Hit hit = queue.pop();
        docids[i] = ids[hit.doc].utf8ToString();
        scores[i] = hit.score;
      }
      adjustTies(scores);
      return new Hits(docids, scores);
    }
  }

  /** Anserini's ScoreTiesAdjusterReranker (1.7): round to 1e-4, then lower the i-th tie of a run by i x 1e-6. */
  static void adjustTies(float[] scores) {
    int dup = 0;
    for (int i = 0; i < scores.length; i++) {
      scores[i] = (float) (Math.round((double) scores[i] * 10000.0) / 10000.0);
      if (i == 0 || scores[i - 1] - scores[i] > 1e-4f) {
        dup = 0;
      } else {
        dup++;
        scores[i] -= 1e-6f * dup;
      }
    }
  }
}
