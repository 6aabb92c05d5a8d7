#!/usr/bin/env python3
"""Writes tests/tokenizer/data/pretokenizer_vectors.json: random strings and
their splits by the GPT-2 and Llama 3 pre-tokenizer regexes, computed with
Python's backtracking `re` engine (an implementation independent of fhellm's
hand-written matcher). \\p{L} / \\p{N} become explicit classes from
unicodedata, \\s the Unicode White_Space set; the strings avoid characters
whose case folding differs between regex engines (U+017F, U+212A)."""
import json
import random
import re
import sys
import unicodedata

WHITE_SPACE = [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029,
               0x202F, 0x205F, 0x3000]


def char_class(pred):
    parts, start, prev = [], None, None
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            ok = False
        else:
            ok = pred(cp)
        if ok and start is None:
            start = cp
        if not ok and start is not None:
            parts.append((start, cp - 1))
            start = None
    if start is not None:
        parts.append((start, 0x10FFFF))
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in parts)


L = char_class(lambda c: unicodedata.category(chr(c)).startswith("L"))
N = char_class(lambda c: unicodedata.category(chr(c)).startswith("N"))
S = "".join(re.escape(chr(c)) for c in WHITE_SPACE)


def translate(pattern):
    return (pattern.replace(r"[^\s\p{L}\p{N}]", f"[^{S}{L}{N}]")
            .replace(r"[^\r\n\p{L}\p{N}]", f"[^\\r\\n{L}{N}]")
            .replace(r"\p{L}", f"[{L}]").replace(r"\p{N}", f"[{N}]")
            .replace(r"\s", f"[{S}]").replace(r"\S", f"[^{S}]"))


GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
          r"\s*[\r\n]+|\s+(?!\S)|\s+")

ALPHABET = ["a", "b", "Z", "é", "ß", "中", "ア", "한", "я", "Ω", "0", "7", "٣", "Ⅻ", "²", "½", " ", " ", " ", "  ",
            "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2003", "'", "'s", "'S", "'ll", "'LL", "'re", "'Ve",
            "'d", "'M", "'t", "!", ".", ",", "-", "(", ")", "\"", "😀", "👍🏽", "\u0301", "\u200d", "$", "_", "12345"]


def main():
    rng = random.Random(2024)
    gpt2, llama3 = re.compile(translate(GPT2)), re.compile(translate(LLAMA3))
    cases = []
    fixed = ["", " ", "Hello world", "I'm can't THEY'LL", "  \n\n  x", "x = 3;\n", "1234567", "(word", "a\tb",
             "hello!\n\nworld", "   ", "\n \n", "naïve café 😀"]
    texts = fixed + ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 25))) for _ in range(400)]
    for t in texts:
        cases.append({"text": t, "gpt2": gpt2.findall(t), "llama3": llama3.findall(t)})
        assert "".join(cases[-1]["gpt2"]) == t and "".join(cases[-1]["llama3"]) == t, t
    json.dump({"generated_by": "src/tokenizer/tools/gen_pretokenizer_vectors.py (Python " + sys.version.split()[0] +
               " re, Unicode " + unicodedata.unidata_version + ")", "gpt2_pattern": GPT2, "llama3_pattern": LLAMA3,
               "cases": cases}, sys.stdout, ensure_ascii=False, indent=0)


main()
