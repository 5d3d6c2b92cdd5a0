"""Pseudonyms for public pages: stable per (student id, course salt), readable, never the id.

`pseudonym(id, salt)` is HMAC-SHA256(key=salt, msg=id) read as adjective-animal-number
(64 x 64 x 900 ≈ 3.7 M names). Without the salt nobody can recompute the mapping from a class
roster, so the salt lives in the course's `leaderboard.yaml` (or, when that names none, in
`<course>/.leaderboard-salt`, created once with a random value and then reused).

`assign(ids, salt)` gives a whole class its names. A collision (≈1% for 300 students) or a name that
happens to contain the id is resolved by re-hashing with a counter; among colliding students the one
with the smaller HMAC digest keeps the plain name, so the outcome does not depend on input order.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

ADJECTIVES = (
    "amber",
    "bold",
    "brave",
    "brisk",
    "calm",
    "clever",
    "cosmic",
    "crimson",
    "curious",
    "daring",
    "deft",
    "eager",
    "early",
    "fancy",
    "fierce",
    "gentle",
    "golden",
    "grand",
    "happy",
    "hardy",
    "humble",
    "icy",
    "jolly",
    "keen",
    "kind",
    "lively",
    "lucky",
    "mellow",
    "merry",
    "mighty",
    "misty",
    "modest",
    "nimble",
    "noble",
    "olive",
    "patient",
    "plucky",
    "polite",
    "proud",
    "quick",
    "quiet",
    "rapid",
    "royal",
    "rustic",
    "scarlet",
    "serene",
    "sharp",
    "shiny",
    "silent",
    "silver",
    "sleek",
    "snowy",
    "solar",
    "spry",
    "steady",
    "stormy",
    "sunny",
    "swift",
    "tidy",
    "twilight",
    "vivid",
    "wandering",
    "wise",
    "witty",
)
ANIMALS = (
    "albatross",
    "alpaca",
    "badger",
    "beaver",
    "bison",
    "bobcat",
    "camel",
    "caribou",
    "cheetah",
    "condor",
    "cougar",
    "coyote",
    "crane",
    "dingo",
    "dolphin",
    "eagle",
    "egret",
    "falcon",
    "ferret",
    "finch",
    "gazelle",
    "gecko",
    "gibbon",
    "heron",
    "hedgehog",
    "ibex",
    "ibis",
    "jackal",
    "jaguar",
    "kestrel",
    "koala",
    "lemur",
    "leopard",
    "lynx",
    "magpie",
    "manatee",
    "marmot",
    "meerkat",
    "mink",
    "moose",
    "narwhal",
    "ocelot",
    "octopus",
    "orca",
    "osprey",
    "otter",
    "owl",
    "panda",
    "pelican",
    "penguin",
    "puffin",
    "quokka",
    "raven",
    "salmon",
    "seal",
    "sparrow",
    "stork",
    "tapir",
    "tiger",
    "toucan",
    "turtle",
    "walrus",
    "weasel",
    "wombat",
)
SALT_FILE = ".leaderboard-salt"


def _digest(student: str, salt: str, attempt: int = 0) -> bytes:
    message = student if attempt == 0 else f"{student}\x00{attempt}"
    return hmac.new(salt.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()


def _name(digest: bytes) -> str:
    value = int.from_bytes(digest[:8], "big")
    adjective = ADJECTIVES[value % len(ADJECTIVES)]
    value //= len(ADJECTIVES)
    animal = ANIMALS[value % len(ANIMALS)]
    value //= len(ANIMALS)
    return f"{adjective}-{animal}-{100 + value % 900}"


def _reveals(name: str, student: str) -> bool:
    return student.strip().lower() in name.lower() if student.strip() else False


def pseudonym(student: str, salt: str, attempt: int = 0) -> str:
    """The readable name for one student id (first attempt that does not contain the id itself)."""
    if not salt:
        raise ValueError("pseudonyms need a non-empty course salt")
    while True:
        name = _name(_digest(student, salt, attempt))
        if not _reveals(name, student):
            return name
        attempt += 1


def assign(students: list[str] | set[str], salt: str) -> dict[str, str]:
    """Unique pseudonyms for a class; deterministic whatever the input order."""
    ordered = sorted(set(students), key=lambda s: _digest(s, salt))
    taken: set[str] = set()
    out: dict[str, str] = {}
    for student in ordered:
        attempt = 0
        name = pseudonym(student, salt)
        while name in taken:
            attempt += 1
            name = pseudonym(student, salt, attempt)
        taken.add(name)
        out[student] = name
    return out


def token(student: str, salt: str, purpose: str = "feedback") -> str:
    """An unguessable, stable path component for a student's private pages (16 hex characters)."""
    return hmac.new(salt.encode("utf-8"), f"{purpose}:{student}".encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def course_salt(course_dir: Path, configured: str | None = None) -> str:
    """The configured salt, else the one stored in the course folder (created on first use)."""
    if configured:
        return str(configured)
    path = Path(course_dir) / SALT_FILE
    if path.is_file() and path.read_text(encoding="utf-8").strip():
        return path.read_text(encoding="utf-8").strip()
    salt = secrets.token_hex(16)
    path.write_text(salt + "\n", encoding="utf-8")
    return salt
