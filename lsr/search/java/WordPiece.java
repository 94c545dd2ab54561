package lsr.lucene;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * BERT's tokenization as Hugging Face {@code tokenizers} runs it for a {@code tokenizer.json} with a
 * {@code BertNormalizer}, a {@code BertPreTokenizer} and a {@code WordPiece} model, without special
 * tokens added around the text: the tokens of an inference-free query, computed in the JVM so that a
 * query crosses from Python to Java once, as a string.
 *
 * <p>Steps, in the order of {@code tokenizers} (normalizers/bert.rs, pre_tokenizers/bert.rs,
 * models/wordpiece): added (special) tokens are split off the raw text; each piece is cleaned
 * (NUL, U+FFFD and other-category characters dropped, whitespace made a space), CJK ideographs are
 * spaced, accents stripped (NFD, non-spacing marks dropped) and the text lowercased per character;
 * words are split on whitespace with every punctuation character a word of its own; each word becomes
 * its greedy longest-match-first word pieces, or the unknown token when it is too long or a piece is
 * missing. lsr's tests compare the tokens with {@code tokenizers}' on every SciFact query.
 */
public final class WordPiece {
  private final Set<String> vocab;
  private final String[] addedTokens;
  private final String unknown;
  private final String prefix;
  private final int maxCharsPerWord;
  private final boolean cleanText;
  private final boolean chineseChars;
  private final boolean stripAccents;
  private final boolean lowercase;

  /**
   * {@code vocab} and {@code addedTokens}: tokens joined by {@code separator} (added tokens are matched
   * on the raw text, longest first, as for tokens marked {@code normalized: false}).
   */
  public WordPiece(String vocab, String addedTokens, String separator, String unknown, String prefix, int maxCharsPerWord,
                   boolean cleanText, boolean chineseChars, boolean stripAccents, boolean lowercase) {
    Pattern split = Pattern.compile(Pattern.quote(separator));
    this.vocab = new HashSet<>(Arrays.asList(split.split(vocab, -1)));
    this.addedTokens = addedTokens.isEmpty() ? new String[0] : split.split(addedTokens, -1);
    Arrays.sort(this.addedTokens, (a, b) -> b.length() - a.length());
    this.unknown = unknown;
    this.prefix = prefix;
    this.maxCharsPerWord = maxCharsPerWord;
    this.cleanText = cleanText;
    this.chineseChars = chineseChars;
    this.stripAccents = stripAccents;
    this.lowercase = lowercase;
  }

  /** The tokens of {@code text}, in order. */
  public List<String> tokenize(String text) {
    List<String> tokens = new ArrayList<>();
    int start = 0;
    for (int i = 0; i < text.length(); ) {
      String added = addedTokenAt(text, i);
      if (added == null) {
        i++;
        continue;
      }
      words(normalize(text.substring(start, i)), tokens);
      tokens.add(added);
      i += added.length();
      start = i;
    }
    words(normalize(text.substring(start)), tokens);
    return tokens;
  }

  /** {@link #tokenize} as an array (for callers across JNI, and tests). */
  public String[] tokens(String text) {
    return tokenize(text).toArray(new String[0]);
  }

  private String addedTokenAt(String text, int i) {
    for (String token : addedTokens) {
      if (text.startsWith(token, i)) {
        return token;
      }
    }
    return null;
  }

  private String normalize(String text) {
    StringBuilder out = new StringBuilder(text.length() + 8);
    text.codePoints().forEach(c -> {
      if (cleanText) {
        if (c == 0 || c == 0xFFFD || isControl(c)) {
          return;
        }
        if (isWhitespace(c)) {
          c = ' ';
        }
      }
      if (chineseChars && isChinese(c)) {
        out.append(' ').appendCodePoint(c).append(' ');
      } else {
        out.appendCodePoint(c);
      }
    });
    String normalized = out.toString();
    if (stripAccents) {
      StringBuilder stripped = new StringBuilder(normalized.length());
      Normalizer.normalize(normalized, Normalizer.Form.NFD).codePoints()
          .filter(c -> Character.getType(c) != Character.NON_SPACING_MARK)
          .forEach(stripped::appendCodePoint);
      normalized = stripped.toString();
    }
    if (lowercase) {
      StringBuilder lower = new StringBuilder(normalized.length());
      normalized.codePoints().forEach(c -> {
        if (c < 128) {
          lower.append((char) (c >= 'A' && c <= 'Z' ? c + 32 : c));
        } else {  // Rust's char::to_lowercase: full mappings, no context (no final sigma)
          lower.append(new String(Character.toChars(c)).toLowerCase(Locale.ROOT));
        }
      });
      normalized = lower.toString();
    }
    return normalized;
  }

  private void words(String text, List<String> tokens) {
    int[] chars = text.codePoints().toArray();
    int start = -1;
    for (int i = 0; i <= chars.length; i++) {
      boolean end = i == chars.length || isWhitespace(chars[i]) || isPunctuation(chars[i]);
      if (end && start >= 0) {
        pieces(chars, start, i, tokens);
        start = -1;
      }
      if (i < chars.length && isPunctuation(chars[i])) {
        pieces(chars, i, i + 1, tokens);
      } else if (!end && start < 0) {
        start = i;
      }
    }
  }

  private void pieces(int[] chars, int from, int to, List<String> tokens) {
    if (to - from > maxCharsPerWord) {
      tokens.add(unknown);
      return;
    }
    List<String> pieces = new ArrayList<>();
    for (int start = from; start < to; ) {
      String piece = null;
      int end = to;
      for (; end > start; end--) {
        String candidate = (start > from ? prefix : "") + new String(chars, start, end - start);
        if (vocab.contains(candidate)) {
          piece = candidate;
          break;
        }
      }
      if (piece == null) {
        tokens.add(unknown);
        return;
      }
      pieces.add(piece);
      start = end;
    }
    tokens.addAll(pieces);
  }

  /** Rust's {@code char::is_whitespace} (the Unicode White_Space property). */
  static boolean isWhitespace(int c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A)
        || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
  }

  /** Other-category characters (Cc, Cf, Cn, Co, Cs) except tab, newline and carriage return. */
  static boolean isControl(int c) {
    if (c == '\t' || c == '\n' || c == '\r') {
      return false;
    }
    int type = Character.getType(c);
    return type == Character.CONTROL || type == Character.FORMAT || type == Character.UNASSIGNED
        || type == Character.PRIVATE_USE || type == Character.SURROGATE;
  }

  /** ASCII punctuation (symbols such as $ + < = > ^ ` | ~ included) or a Unicode punctuation category. */
  static boolean isPunctuation(int c) {
    if (c < 128) {
      return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
    }
    switch (Character.getType(c)) {
      case Character.CONNECTOR_PUNCTUATION:
      case Character.DASH_PUNCTUATION:
      case Character.START_PUNCTUATION:
      case Character.END_PUNCTUATION:
      case Character.INITIAL_QUOTE_PUNCTUATION:
      case Character.FINAL_QUOTE_PUNCTUATION:
      case Character.OTHER_PUNCTUATION:
        return true;
      default:
        return false;
    }
  }

  /** The CJK ideograph blocks that BERT spaces out. */
  static boolean isChinese(int c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF)
        || (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF)
        || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
  }
}
