package lsr.lucene;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.lucene.codecs.CodecUtil;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.MultiTerms;
import org.apache.lucene.index.PostingsEnum;
import org.apache.lucene.index.Terms;
import org.apache.lucene.index.TermsEnum;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.store.IOContext;
import org.apache.lucene.store.IndexInput;
import org.apache.lucene.store.IndexOutput;
import org.apache.lucene.store.RandomAccessInput;
import org.apache.lucene.util.BytesRef;

/**
 * The forward index of an impact field: each document's terms and impacts, read by Lucene docid.
 *
 * <p>Two-phase search scores its candidates on the query's light terms. Through posting lists
 * ({@code QueryRescorer}) that costs a Lucene clause per light term, whatever the number of candidates;
 * reading the candidates' own vectors costs their length instead, which is far less when the candidates
 * are few (k=10). Seismic keeps a forward index for the same reason (Bruch et al., SIGIR 2024).
 *
 * <p>File (one per index, written by {@link #main} after the Lucene index is built): a Lucene codec
 * header; the field's terms in index order (their position is their id); the document and posting counts; per document in docid order,
 * its term count then (id gap, impact) pairs as variable-length ints; the start of every document's
 * entry (one long per document, and one past the end); the position of that table; a checksum footer.
 */
public final class ForwardIndex implements Closeable {
  private static final String CODEC = "LsrForwardIndex";
  private static final int VERSION = 1;
  private static final long CHUNK_POSTINGS = 1L << 24;  // postings inverted per pass: 128 MiB of ids and impacts

  private final IndexInput input;
  private final RandomAccessInput data;
  private final RandomAccessInput starts;
  private final Map<String, Integer> ids;
  private final int numDocs;
  private final long postings;

  private ForwardIndex(IndexInput input, RandomAccessInput data, RandomAccessInput starts, Map<String, Integer> ids, int numDocs,
                       long postings) {
    this.input = input;
    this.data = data;
    this.starts = starts;
    this.ids = ids;
    this.numDocs = numDocs;
    this.postings = postings;
  }

  /** Writes the forward index of {@code field} of the Lucene index at {@code args[0]} to the file {@code args[2]}. */
  public static void main(String[] args) throws IOException {
    if (args.length != 3) {
      throw new IllegalArgumentException("usage: ForwardIndex LUCENE_DIR FIELD OUTPUT_FILE");
    }
    try (Directory directory = FSDirectory.open(Path.of(args[0])); IndexReader reader = DirectoryReader.open(directory)) {
      write(reader, args[1], Path.of(args[2]));
    }
  }

  /** Writes the forward index of {@code field} of {@code reader} to {@code file}, inverting its postings a chunk of documents at a time. */
  public static void write(IndexReader reader, String field, Path file) throws IOException {
    Terms terms = MultiTerms.getTerms(reader, field);
    int maxDoc = reader.maxDoc();
    int[] lengths = new int[maxDoc];
    List<BytesRef> vocabulary = new ArrayList<>();
    if (terms != null) {
      TermsEnum iterator = terms.iterator();
      PostingsEnum postings = null;
      for (BytesRef term = iterator.next(); term != null; term = iterator.next()) {
        vocabulary.add(BytesRef.deepCopyOf(term));
        postings = iterator.postings(postings, PostingsEnum.NONE);
        for (int doc = postings.nextDoc(); doc != DocIdSetIterator.NO_MORE_DOCS; doc = postings.nextDoc()) {
          lengths[doc]++;
        }
      }
    }
    long[] start = new long[maxDoc + 1];
    try (Directory directory = FSDirectory.open(file.getParent());
         IndexOutput out = directory.createOutput(file.getFileName().toString(), IOContext.DEFAULT)) {
      CodecUtil.writeHeader(out, CODEC, VERSION);
      out.writeVInt(vocabulary.size());
      for (BytesRef term : vocabulary) {
        out.writeVInt(term.length);
        out.writeBytes(term.bytes, term.offset, term.length);
      }
      out.writeVInt(maxDoc);
      long total = 0;
      for (int length : lengths) {
        total += length;
      }
      out.writeVLong(total);
      long base = out.getFilePointer();
      for (int from = 0; from < maxDoc; ) {
        int to = from;
        long postings = 0;
        while (to < maxDoc && (to == from || postings + lengths[to] <= CHUNK_POSTINGS)) {
          postings += lengths[to++];
        }
        writeChunk(terms, from, to, lengths, (int) postings, out, base, start);
        from = to;
      }
      start[maxDoc] = out.getFilePointer() - base;
      long table = out.getFilePointer();
      for (long position : start) {
        out.writeLong(position);
      }
      out.writeLong(table);
      CodecUtil.writeFooter(out);
    }
  }

  /** Inverts the postings of documents {@code from..to-1} (term ids ascend within each) and appends their entries. */
  private static void writeChunk(Terms terms, int from, int to, int[] lengths, int postings, IndexOutput out, long base, long[] start)
      throws IOException {
    int[] termIds = new int[postings];
    int[] impacts = new int[postings];
    int[] fill = new int[to - from + 1];
    for (int doc = from; doc < to; doc++) {
      fill[doc - from + 1] = fill[doc - from] + lengths[doc];
    }
    int[] offsets = fill.clone();
    if (terms != null) {
      TermsEnum iterator = terms.iterator();
      PostingsEnum list = null;
      int id = 0;
      for (BytesRef term = iterator.next(); term != null; term = iterator.next(), id++) {
        list = iterator.postings(list, PostingsEnum.FREQS);
        for (int doc = list.advance(from); doc < to; doc = list.nextDoc()) {
          int slot = fill[doc - from]++;
          termIds[slot] = id;
          impacts[slot] = list.freq();
        }
      }
    }
    for (int doc = from; doc < to; doc++) {
      start[doc] = out.getFilePointer() - base;
      out.writeVInt(lengths[doc]);
      int previous = 0;
      for (int slot = offsets[doc - from]; slot < offsets[doc - from + 1]; slot++) {
        out.writeVInt(termIds[slot] - previous);
        out.writeVInt(impacts[slot]);
        previous = termIds[slot];
      }
    }
  }

  /** Opens the forward index in {@code file} (memory-mapped); checks its header and footer, not every byte. */
  public static ForwardIndex open(Path file) throws IOException {
    Directory directory = FSDirectory.open(file.getParent());
    IndexInput input = directory.openInput(file.getFileName().toString(), IOContext.DEFAULT);
    try {
      CodecUtil.checkHeader(input, CODEC, VERSION, VERSION);
      CodecUtil.retrieveChecksum(input);
      input.seek(CodecUtil.headerLength(CODEC));
      int numTerms = input.readVInt();
      Map<String, Integer> ids = new HashMap<>(numTerms * 2);
      for (int id = 0; id < numTerms; id++) {
        byte[] bytes = new byte[input.readVInt()];
        input.readBytes(bytes, 0, bytes.length);
        ids.put(new BytesRef(bytes).utf8ToString(), id);
      }
      int numDocs = input.readVInt();
      long postings = input.readVLong();
      long base = input.getFilePointer();
      input.seek(input.length() - CodecUtil.footerLength() - Long.BYTES);
      long table = input.readLong();
      RandomAccessInput data = input.randomAccessSlice(base, table - base);
      RandomAccessInput starts = input.randomAccessSlice(table, (long) (numDocs + 1) * Long.BYTES);
      return new ForwardIndex(input, data, starts, ids, numDocs, postings);
    } catch (IOException | RuntimeException error) {
      input.close();
      throw error;
    }
  }

  /** The number of documents (the Lucene index's maxDoc). */
  public int numDocs() {
    return numDocs;
  }

  /** The id of {@code term}, or -1 when no document has it. */
  public int termId(String term) {
    return ids.getOrDefault(term, -1);
  }

  /** The average number of terms per document. */
  public double averageLength() {
    return numDocs == 0 ? 0 : (double) postings / numDocs;
  }

  /**
   * Sum of {@code weights[i]} x the impact of term {@code termIds[i]} in document {@code doc}, over the terms it has;
   * {@code termIds} ascending. Thread-safe.
   */
  public float score(int doc, int[] termIds, float[] weights) throws IOException {
    long position = starts.readLong((long) doc * Long.BYTES);
    long[] cursor = {position};
    int length = readVInt(cursor);
    float score = 0;
    int id = 0;
    int next = 0;
    for (int i = 0; i < length && next < termIds.length; i++) {
      id += readVInt(cursor);
      int impact = readVInt(cursor);
      while (next < termIds.length && termIds[next] < id) {
        next++;
      }
      if (next < termIds.length && termIds[next] == id) {
        score += weights[next] * impact;
      }
    }
    return score;
  }

  private int readVInt(long[] cursor) throws IOException {
    byte b = data.readByte(cursor[0]++);
    int value = b & 0x7F;
    for (int shift = 7; b < 0; shift += 7) {
      b = data.readByte(cursor[0]++);
      value |= (b & 0x7F) << shift;
    }
    return value;
  }

  @Override
  public void close() throws IOException {
    input.close();
  }
}
