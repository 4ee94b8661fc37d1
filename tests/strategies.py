"""Hypothesis strategies shared by the property tests of parsers and endpoints."""

from hypothesis import strategies as st

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
# Any JSON document of a few levels: what a client may send where an object is expected.
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)

# Values that break parsers more often than random text: empty, signs, huge and non-finite numbers, bare
# prefixes, separators, brackets, control and non-ASCII characters.
TRICKY_TOKENS = st.sampled_from(
    ["", "0", "-1", "+", "nan", "inf", "-inf", "1e999", "99999999999999999999999", "0x",
     "0xfffffffffffffffff", "-0x1", "1.5", "1,5", ".", "%", ":", "=", "*", "-", "(", ")", "[", "]",
     "<", ">", "{", "}", '"', "'",
     "\t", "\r", "\x00", "\x85", "\u2028", "\ufeff", "é", "€", "💥", "@", "#", ",", ";", "|", "\\"]
)  # fmt: skip


@st.composite
def mutated_lines(draw, lines: list[str], *, max_mutations: int = 4) -> list[str]:
    """A real file's lines (ends kept) after a few edits a damaged or hand-made file shows: a line lost,
    doubled, moved or cut short, the file cut off, a token or a character swapped for a tricky one, junk
    inserted, Windows line ends."""
    lines = list(lines)
    for _ in range(draw(st.integers(1, max_mutations))):
        if not lines:
            lines.append(draw(st.text(max_size=40)) + "\n")
            continue
        at = draw(st.integers(0, len(lines) - 1))
        line = lines[at]
        edit = draw(
            st.sampled_from(["drop", "double", "move", "cut", "end", "token", "char", "junk", "crlf"])
        )
        if edit == "drop":
            del lines[at]
        elif edit == "double":
            lines.insert(at, line)
        elif edit == "move":
            lines.insert(draw(st.integers(0, len(lines))), lines.pop(at))
        elif edit == "cut":
            lines[at] = line[: draw(st.integers(0, len(line)))]
        elif edit == "end":
            lines = lines[:at]
        elif edit == "token":
            tokens = line.split(" ")
            tokens[draw(st.integers(0, len(tokens) - 1))] = draw(TRICKY_TOKENS)
            lines[at] = " ".join(tokens)
        elif edit == "char":
            where = draw(st.integers(0, len(line)))
            lines[at] = line[:where] + draw(TRICKY_TOKENS | st.characters()) + line[where + 1 :]
        elif edit == "junk":
            lines.insert(at, draw(st.text(max_size=60)) + "\n")
        else:
            lines = [item.replace("\n", "\r\n") for item in lines]
    return lines
