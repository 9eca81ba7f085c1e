// Package wordfilter finds banned words in live comments. It is the
// banned-word step of the live-comment moderation pipeline (package live and
// its workers import it); it has no dependencies on the rest of stadion.
//
// # Folding
//
// The banned words and every comment go through the same folding (see
// [Normalize]): Unicode compatibility decomposition (NFKD), which turns
// full-width ＡＢＣ/１２３, half-width ｶﾀｶﾅ, circled, mathematical and other
// styled letters into their normal forms; simple case folding (plus ß→ss,
// æ→ae, œ→oe); removal of invisible characters (zero-width space and joiners,
// U+FEFF, soft hyphen, variation selectors, other format and
// default-ignorable characters, control characters other than whitespace,
// invalid UTF-8) and of the generic combining marks used to disguise
// letters (accents, strike-through, "Zalgo" stacks; the Japanese voicing
// marks are kept, so カ and ガ stay different); a small table of
// look-alikes (Cyrillic а е о р с х у к м т н в і ј ѕ, Greek α ε ι κ ν ο ρ τ
// υ χ and a few stroked Latin letters map to plain Latin letters).
// Everything that is not a letter, a digit, a mark or an emoji/other symbol
// is a separator; a run of separators counts as one.
//
// # Matching semantics
//
// Matching runs over the folded letters with the separators taken out, so
// that spacing tricks cannot split a word, and uses the separators only to
// decide where words begin and end:
//
//   - A banned word whose first (last) character is a letter of a script
//     written with spaces (Latin, Cyrillic, Greek, Arabic, Devanagari, ...)
//     or a digit must start (end) at a word boundary: a separator, the
//     start/end of the text, or a change between letters, digits and other
//     characters. So "ass" does not match "classic", "bass" or "assets",
//     "88" does not match "1988", but "fuck" matches "fuck123" and "ok-fuck".
//     This is what keeps the famous substring false positives (Scunthorpe,
//     "classic", "assassin") out, at the price of missing words glued inside
//     longer words ("fuckface" needs its own entry).
//   - Chinese, Japanese (kana included), Korean, Thai, Lao, Khmer, Myanmar
//     and similar characters need no boundary: those languages do not put
//     spaces between words (Korean glues particles to nouns), so banned
//     words made of them match as substrings ("傻逼" in "你个傻逼吧").
//   - Inside a match the text may cross a separator made only of
//     punctuation or symbols ("b.a.n", "b_a_n", "b-a-n", "fu.ck"), and a
//     whitespace separator when the characters on both sides of it stand
//     alone ("b a n", "f u c k", "a b i t c h" finds "bitch") or are both
//     CJK-like ("操 你 妈"). It may not cross whitespace between two real
//     words, so "an al" does not match "anal" and "a SS" does not match
//     "ass". A separator inside a banned word or phrase ("kill yourself",
//     "a-hole") may appear in the text or not.
//
// Not handled: digit and symbol substitutions ("a55", "f*ck"), repeated
// letters ("fuuuck"), Traditional/Simplified Chinese variants and phonetic
// spellings; list those forms as words of their own.
//
// # Cost and concurrency
//
// A [Matcher] is an Aho–Corasick automaton over the folded runes, so the cost
// of [Matcher.Find] grows with the length of the comment, not with the
// number of banned words. A Matcher is immutable after [New] and safe for
// concurrent use; to change the list, build a new Matcher and swap it in
// atomically (for example with atomic.Pointer[Matcher]).
package wordfilter
