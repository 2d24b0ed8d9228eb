"""Text as a check should read it: what looks the same is the same.

A reply can hide an address or a secret from a plain pattern with compatibility forms
(the fullwidth at sign and letters), invisible characters (zero-width spaces and joiners,
soft hyphens, bidi controls) or letters from another script that look Latin (Cyrillic a,
Greek omicron).
`visible` undoes the first two (NFKC, then every format character dropped); `skeleton` maps the
common look-alikes onto ASCII one character for one, so a match found in the skeleton has the
same span in the text it came from.
"""

from __future__ import annotations

import unicodedata

# Look-alikes of Latin letters and of the dots an address is made of, and their ASCII twins,
# as escapes. Not the whole Unicode confusables table: the letters of the scripts seen in
# spoofed addresses (Cyrillic, Greek), a few Latin variants, dot variants NFKC keeps.
_LOOKALIKES = (
    "\u0430\u0432\u0435\u0451\u04bb\u0456\u0457\u0458\u043a\u043c"  # Cyrillic
    "\u043d\u043e\u0440\u0441\u0442\u0443\u0445\u0455\u0501\u051b"
    "\u051d\u04cf\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420"
    "\u0421\u0422\u0423\u0425\u0406\u0408\u0405\u0500\u051a\u051c"
    "\u04c0"
    "\u03b1\u03bf\u03c1\u03bd\u03b9\u03ba\u03c5\u03c7\u03c4\u03b5"  # Greek
    "\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f"
    "\u03a1\u03a4\u03a5\u03a7"
    "\u0261\u0131\u0269\u2113\u017f\u3002\uff61\u30fb\u066b"  # Latin variants and dots
)
_TWINS = (
    "abeehiijkm"  # Cyrillic
    "hopctyxsdq"
    "wlABEKMHOP"
    "CTYXIJSDQW"
    "I"
    "aopvikuxte"  # Greek
    "ABEZHIKMNO"
    "PTYX"
    "giils...."  # Latin variants and dots
)
_SKELETON = str.maketrans(_LOOKALIKES, _TWINS)


def visible(text: str) -> str:
    """NFKC-normalised, without format characters (zero-width, soft hyphen, bidi controls)."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(c for c in folded if unicodedata.category(c) != "Cf")


def skeleton(text: str) -> str:
    """`text` with look-alike characters replaced by their ASCII twin, length unchanged."""
    return text.translate(_SKELETON)
