"""Deterministic text for the simulated server: same prompt and seed, same words."""

from __future__ import annotations

import hashlib
import random

__all__ = ["make_rng", "words"]

_PROSE = (
    "the a of and to in is that it for on with as was by at from this be are or an have not "
    "model token stream latency fast server client request answer question time data network "
    "light sky blue river mountain city system memory signal value result reason simple clear "
    "small large quick slow bright quiet early late open close first last next each every "
    "make take give find show keep tell learn build write read run move turn start stop help "
    "people world water energy number story idea point part place case group problem fact "
    "because while when where which there their then than also only very more most much many "
    "good new old long short high low great little own other same different important useful "
    "chat response inference batch queue cache layer kernel vector prompt context window "
    "scatter wavelength molecule atmosphere sunlight photon color spectrum violet red green"
)
_VOCAB = _PROSE.split()


def make_rng(*parts: object) -> random.Random:
    """A PRNG seeded stably (not with `hash()`, which varies per process) from `parts`."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def words(rng: random.Random, n: int, *, prefix: tuple[str, ...] = ()) -> list[str]:
    """`n` tokens: words with a leading space (not the first), sentences capitalised and ended."""
    out: list[str] = []
    sentence_left = 0
    pending = list(prefix)
    for i in range(n):
        w = pending.pop(0) if pending else rng.choice(_VOCAB)
        if sentence_left == 0:
            w = w.capitalize()
            sentence_left = rng.randint(6, 14)
        sentence_left -= 1
        if sentence_left == 0 or i == n - 1:
            w += "."
        out.append(w if i == 0 else " " + w)
    return out
