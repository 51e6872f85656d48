"""Known mistakes of exercise 02-tokenization, with the hints that name them."""

from minigpt.mistakes import Alternative, Known, Mistake

TASKS = {
    "char-tokenizer": Known(
        mistakes=(
            Mistake(
                "vocabulary in order of first appearance, not sorted",
                hint="Your vocabulary lists the characters in the order they first appear. The task wants them sorted (sorted(set(text))), so that the ids do not depend on where a character first shows up.",
                source="""
def char_vocab(text):
    return list(dict.fromkeys(text))
def char_encode(text, vocab):
    stoi = {ch: i for i, ch in enumerate(vocab)}
    return [stoi[ch] for ch in text]
def char_decode(ids, vocab):
    return "".join(vocab[i] for i in ids)
""",
            ),
            Mistake(
                "skips unknown characters",
                hint="char_encode drops characters that are not in the vocabulary. It must raise an error instead: silently losing text makes the round trip impossible and hides the problem.",
                source="""
def char_vocab(text):
    return sorted(set(text))
def char_encode(text, vocab):
    stoi = {ch: i for i, ch in enumerate(vocab)}
    return [stoi[ch] for ch in text if ch in stoi]
def char_decode(ids, vocab):
    return "".join(vocab[i] for i in ids)
""",
            ),
            Mistake(
                "unknown characters get id 0",
                hint="char_encode gives unknown characters id 0, which is some real character. It must raise an error instead (for example the KeyError of a dict lookup).",
                source="""
def char_vocab(text):
    return sorted(set(text))
def char_encode(text, vocab):
    stoi = {ch: i for i, ch in enumerate(vocab)}
    return [stoi.get(ch, 0) for ch in text]
def char_decode(ids, vocab):
    return "".join(vocab[i] for i in ids)
""",
            ),
            Mistake(
                "decode returns a list of characters",
                hint="char_decode must return one string: join the characters with ''.join(...).",
                source="""
def char_vocab(text):
    return sorted(set(text))
def char_encode(text, vocab):
    stoi = {ch: i for i, ch in enumerate(vocab)}
    return [stoi[ch] for ch in text]
def char_decode(ids, vocab):
    return [vocab[i] for i in ids]
""",
            ),
        ),
        alternatives=(
            Alternative(
                "list.index and map",
                """
def char_vocab(text):
    vocab = list(set(text))
    vocab.sort()
    return vocab
def char_encode(text, vocab):
    return [vocab.index(ch) for ch in text]
def char_decode(ids, vocab):
    return "".join(map(vocab.__getitem__, ids))
""",
            ),
        ),
    ),
    "count-pairs": Known(
        mistakes=(
            Mistake(
                "counts pairs without overlap (steps of two)",
                hint="Stepping two at a time misses every pair that starts at an odd position. Pairs overlap: zip(ids, ids[1:]) gives all of them.",
                source="""
def count_pairs(ids):
    counts = {}
    for pair in zip(ids[::2], ids[1::2]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts
""",
            ),
            Mistake(
                "misses the last pair",
                hint="Your loop stops one pair early: a list of n ids holds n - 1 pairs, from (ids[0], ids[1]) to (ids[n - 2], ids[n - 1]).",
                source="""
def count_pairs(ids):
    counts = {}
    for i in range(len(ids) - 2):
        pair = (ids[i], ids[i + 1])
        counts[pair] = counts.get(pair, 0) + 1
    return counts
""",
            ),
            Mistake(
                "keys sorted, not in order of appearance",
                hint="Your dict's keys are sorted. Keep them in order of first appearance (fill the dict from left to right without sorting): train_bpe breaks ties with that order.",
                source="""
def count_pairs(ids):
    counts = {}
    for pair in sorted(zip(ids, ids[1:])):
        counts[pair] = counts.get(pair, 0) + 1
    return counts
""",
            ),
            Mistake(
                "counts only pairs of different ids",
                hint="Pairs of equal neighbours count too: 'aaa' holds (97, 97) twice.",
                source="""
def count_pairs(ids):
    counts = {}
    for pair in zip(ids, ids[1:]):
        if pair[0] != pair[1]:
            counts[pair] = counts.get(pair, 0) + 1
    return counts
""",
            ),
        ),
        alternatives=(
            Alternative(
                "collections.Counter",
                """
from collections import Counter
def count_pairs(ids):
    return Counter(zip(ids, ids[1:]))
""",
            ),
            Alternative(
                "index loop with setdefault",
                """
def count_pairs(ids):
    counts = {}
    for i in range(1, len(ids)):
        counts.setdefault((ids[i - 1], ids[i]), 0)
        counts[(ids[i - 1], ids[i])] += 1
    return counts
""",
            ),
        ),
    ),
    "merge-pair": Known(
        mistakes=(
            Mistake(
                'overlapping merge ("aaa" gives [new, new, a])',
                hint="After replacing a pair, skip both of its ids (i += 2): an id can belong to only one merge, so 'aaa' gives [new, a].",
                source="""
def merge_pair(ids, pair, new_id):
    merged, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            merged.append(new_id)
        else:
            merged.append(ids[i])
        i += 1
    return merged
""",
            ),
            Mistake(
                "loses the last id",
                hint="Your loop stops before the last id and never appends it. When no pair starts at the last position, the last id must still be copied over.",
                source="""
def merge_pair(ids, pair, new_id):
    merged, i = [], 0
    while i < len(ids) - 1:
        if (ids[i], ids[i + 1]) == pair:
            merged.append(new_id)
            i += 2
        else:
            merged.append(ids[i])
            i += 1
    return merged
""",
            ),
            Mistake(
                "replaces every match at once, overlaps included",
                hint="Finding all matches first lets them overlap. Scan left to right and skip both ids of each replaced pair, so 'aaaa' gives [new, new] and 'aaa' gives [new, a].",
                source="""
def merge_pair(ids, pair, new_id):
    hits = {i for i in range(len(ids) - 1) if (ids[i], ids[i + 1]) == pair}
    return [new_id if i in hits else ids[i] for i in range(len(ids)) if i - 1 not in hits]
""",
            ),
            Mistake(
                "changes the list it was given",
                hint="The task asks for a new list. Writing into ids changes the caller's list too; build the result in a list of its own.",
                source="""
def merge_pair(ids, pair, new_id):
    i = 0
    while i < len(ids) - 1:
        if (ids[i], ids[i + 1]) == pair:
            ids[i:i + 2] = [new_id]
        i += 1
    return ids
""",
            ),
        ),
        alternatives=(
            Alternative(
                "for loop with a skip flag",
                """
def merge_pair(ids, pair, new_id):
    merged, skip = [], False
    for i, current in enumerate(ids):
        if skip:
            skip = False
            continue
        if i + 1 < len(ids) and current == pair[0] and ids[i + 1] == pair[1]:
            merged.append(new_id)
            skip = True
        else:
            merged.append(current)
    return merged
""",
            ),
            Alternative(
                "splices a copy in place",
                """
def merge_pair(ids, pair, new_id):
    merged = list(ids)
    i = 0
    while i < len(merged) - 1:
        if merged[i] == pair[0] and merged[i + 1] == pair[1]:
            merged[i:i + 2] = [new_id]
        i += 1
    return merged
""",
            ),
        ),
    ),
    "train-bpe": Known(
        mistakes=(
            Mistake(
                "ties go to the largest pair",
                hint="When two pairs are equally frequent, the one that appears first in ids wins (max over the dict from count_pairs keeps the first), not the largest pair.",
                source="""
def train_bpe(text, num_merges):
    ids, merges = list(text.encode("utf-8")), []
    for k in range(num_merges):
        counts = count_pairs(ids)
        if not counts:
            break
        pair, n = max(counts.items(), key=lambda item: (item[1], item[0]))
        if n < 2:
            break
        ids = merge_pair(ids, pair, 256 + k)
        merges.append(pair)
    return merges
""",
            ),
            Mistake(
                "code points instead of UTF-8 bytes",
                hint="Start from the UTF-8 bytes, list(text.encode('utf-8')), not from ord() of each character: ids above 255 then clash with the merged ids.",
                source="""
def train_bpe(text, num_merges):
    ids, merges = [ord(ch) for ch in text], []
    for k in range(num_merges):
        counts = count_pairs(ids)
        if not counts:
            break
        pair = max(counts, key=counts.get)
        if counts[pair] < 2:
            break
        ids = merge_pair(ids, pair, 256 + k)
        merges.append(pair)
    return merges
""",
            ),
            Mistake(
                "never stops early",
                hint="Stop when the most frequent pair occurs only once: merging it gains nothing.",
                source="""
def train_bpe(text, num_merges):
    ids, merges = list(text.encode("utf-8")), []
    for k in range(num_merges):
        counts = count_pairs(ids)
        if not counts:
            break
        pair = max(counts, key=counts.get)
        ids = merge_pair(ids, pair, 256 + k)
        merges.append(pair)
    return merges
""",
            ),
            Mistake(
                "new ids start at 255",
                hint="Merge k (counting from 0) creates id 256 + k; id 255 is already a byte.",
                source="""
def train_bpe(text, num_merges):
    ids, merges = list(text.encode("utf-8")), []
    for k in range(num_merges):
        counts = count_pairs(ids)
        if not counts:
            break
        pair = max(counts, key=counts.get)
        if counts[pair] < 2:
            break
        ids = merge_pair(ids, pair, 255 + k)
        merges.append(pair)
    return merges
""",
            ),
        ),
        alternatives=(
            Alternative(
                "Counter.most_common and a while loop",
                """
from collections import Counter
def train_bpe(text, num_merges):
    ids, merges = list(text.encode("utf-8")), []
    while len(merges) < num_merges and len(ids) > 1:
        pair, n = Counter(zip(ids, ids[1:])).most_common(1)[0]
        if n == 1:
            break
        ids = merge_pair(ids, pair, 256 + len(merges))
        merges.append(pair)
    return merges
""",
            ),
        ),
    ),
    "bpe-encode-decode": Known(
        mistakes=(
            Mistake(
                "decodes token by token",
                hint="Decoding each token on its own breaks characters whose bytes sit in two tokens (é is two bytes). Join the bytes of all tokens first, then decode once.",
                source="""
def bpe_encode(text, merges):
    ids = list(text.encode("utf-8"))
    for k, pair in enumerate(merges):
        ids = merge_pair(ids, tuple(pair), 256 + k)
    return ids
def bpe_decode(ids, merges):
    vocab = [bytes([i]) for i in range(256)]
    for a, b in merges:
        vocab.append(vocab[a] + vocab[b])
    return "".join(vocab[i].decode("utf-8", errors="replace") for i in ids)
""",
            ),
            Mistake(
                "chr of every byte",
                hint="chr(byte) treats every byte as a character, which is wrong for anything beyond ASCII. Join the bytes and decode them with .decode('utf-8').",
                source="""
def bpe_encode(text, merges):
    ids = list(text.encode("utf-8"))
    for k, pair in enumerate(merges):
        ids = merge_pair(ids, tuple(pair), 256 + k)
    return ids
def bpe_decode(ids, merges):
    vocab = [bytes([i]) for i in range(256)]
    for a, b in merges:
        vocab.append(vocab[a] + vocab[b])
    return "".join(chr(byte) for byte in b"".join(vocab[i] for i in ids))
""",
            ),
            Mistake(
                "encodes code points, not bytes",
                hint="bpe_encode must start from the UTF-8 bytes of the text, list(text.encode('utf-8')), not from ord() of each character.",
                source="""
def bpe_encode(text, merges):
    ids = [ord(ch) for ch in text]
    for k, pair in enumerate(merges):
        ids = merge_pair(ids, tuple(pair), 256 + k)
    return ids
def bpe_decode(ids, merges):
    vocab = [bytes([i]) for i in range(256)]
    for a, b in merges:
        vocab.append(vocab[a] + vocab[b])
    return b"".join(vocab[i] for i in ids).decode("utf-8")
""",
            ),
            Mistake(
                "applies the merges newest first",
                hint="Apply the merges in the order they were learned, merge 0 first: later merges are built on earlier ones.",
                source="""
def bpe_encode(text, merges):
    ids = list(text.encode("utf-8"))
    for k in reversed(range(len(merges))):
        ids = merge_pair(ids, tuple(merges[k]), 256 + k)
    return ids
def bpe_decode(ids, merges):
    vocab = [bytes([i]) for i in range(256)]
    for a, b in merges:
        vocab.append(vocab[a] + vocab[b])
    return b"".join(vocab[i] for i in ids).decode("utf-8")
""",
            ),
        ),
        alternatives=(
            Alternative(
                "dict vocabulary and bytearray",
                """
def bpe_encode(text, merges):
    ids = list(bytearray(text, "utf-8"))
    for new_id, (a, b) in enumerate(merges, start=256):
        ids = merge_pair(ids, (a, b), new_id)
    return ids
def bpe_decode(ids, merges):
    pieces = {i: bytes([i]) for i in range(256)}
    for new_id, (a, b) in enumerate(merges, start=256):
        pieces[new_id] = pieces[a] + pieces[b]
    raw = bytearray()
    for i in ids:
        raw += pieces[i]
    return bytes(raw).decode("utf-8", errors="replace")
""",
            ),
        ),
    ),
}
