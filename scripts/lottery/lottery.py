#!/usr/bin/env python3
"""A second, independent implementation of WaitingRoom's pre-queue lottery (README: "A draw anyone can check").

    lottery.py --check-vectors                      # reproduce the README's test vectors (CI: make lottery-check)
    lottery.py --key KEY --size N [--beacon B] [--commitment C] [--first K | --all] [--seq S]

Everything needed to check a draw: the commitment published before opening, the key revealed at opening, the
beacon (when the room named one) and the pre-queue's size, all in `GET /v1/rooms/{room}/board` and the room view.
Standard library only.
"""

import argparse
import hashlib
import hmac
import sys

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
ROUNDS = 6


def commitment(key):
    """Hex SHA-256 of the key's 32 hex characters as ASCII text (`printf %s KEY | sha256sum`)."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def draw_key(key, beacon=None):
    """The permutation's key: the revealed key, or with a beacon the first 32 hex of SHA-256(key text + beacon)."""
    if not beacon:
        return key
    return hashlib.sha256((key + beacon).encode("utf-8")).hexdigest()[:32]


def mix(x):
    """MurmurHash3's 64-bit finaliser (fmix64)."""
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & MASK64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & MASK64
    x ^= x >> 33
    return x


class Lottery:
    """A balanced Feistel network over the smallest even number of bits (>= 2) whose range holds `size`,
    6 rounds, with cycle walking back into 0..size-1."""

    def __init__(self, size, key):
        if len(key) != 32:
            raise ValueError("the key is 32 hex digits")
        self.size = size
        bits = 2
        while bits < 64 and (1 << bits) < size:
            bits += 2
        self.half = bits // 2
        self.mask = (1 << self.half) - 1
        high, low = int(key[:16], 16), int(key[16:], 16)
        state = high ^ mix(low)
        self.round_keys = []
        for _ in range(ROUNDS):
            state = (state + GOLDEN) & MASK64
            self.round_keys.append(mix(state))

    def encrypt(self, value):
        left, right = value >> self.half, value & self.mask
        for k in self.round_keys:
            left, right = right, left ^ (mix(right ^ k) & self.mask)
        return (left << self.half) | right

    def permute(self, index):
        """0-based place of 0-based pre-queue index."""
        if not 0 <= index < self.size:
            raise ValueError("index outside the permutation")
        value = self.encrypt(index)
        while value >= self.size:
            value = self.encrypt(value)
        return value

    def place(self, seq):
        """The drawn place (1-based) of pre-queue number `seq` (1-based, the queue number the join handed out)."""
        return self.permute(seq - 1) + 1


# The README's vectors, written out (the Swift tests hold the gate's implementation to the same table):
# (key, beacon, pre-queue size, commitment, permutation key, drawn places of pre-queue numbers 1..10).
KNOWN = [
    ("00112233445566778899aabbccddeeff", None, 10,
     "5947d7c33d783f94b3b4c1a96ebc8991ed28f1b069b71e03376cba8caa98a720", "00112233445566778899aabbccddeeff",
     [4, 7, 10, 5, 2, 1, 6, 3, 9, 8]),
    ("00112233445566778899aabbccddeeff", None, 1000,
     "5947d7c33d783f94b3b4c1a96ebc8991ed28f1b069b71e03376cba8caa98a720", "00112233445566778899aabbccddeeff",
     [311, 10, 801, 163, 326, 746, 331, 36, 718, 106]),
    ("9f2c4a1b0d3e5f67a8b9c0d1e2f30415", None, 100000,
     "609dc2722fb603afbffc96ce28d83776f03e350c03f943eb110abdb162f3b562", "9f2c4a1b0d3e5f67a8b9c0d1e2f30415",
     [19275, 63628, 89389, 7216, 58508, 43337, 733, 35785, 71259, 70880]),
    ("9f2c4a1b0d3e5f67a8b9c0d1e2f30415", "drand-quicknet-round-1234567:0a1b2c", 100000,
     "609dc2722fb603afbffc96ce28d83776f03e350c03f943eb110abdb162f3b562", "d651cb852682f6c3b59c267336496e17",
     [491, 870, 34087, 54514, 71819, 67632, 97036, 44484, 25586, 43159]),
    ("ffffffffffffffffffffffffffffffff", None, 1,
     "352302489bc2fcf025cf00cda8308033f97ac87712ce90b4d7cd72c58e4c3af9", "ffffffffffffffffffffffffffffffff",
     [1]),
]


def vector_rows():
    rows = []
    for key, beacon, size, _, _, _ in KNOWN:
        lottery = Lottery(size, draw_key(key, beacon))
        first = [lottery.place(seq) for seq in range(1, min(size, 10) + 1)]
        rows.append((key, beacon, size, commitment(key), draw_key(key, beacon), first))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check-vectors", action="store_true", help="check the README's test vectors")
    parser.add_argument("--print-vectors", action="store_true", help="print the vectors as a Markdown table")
    parser.add_argument("--key", help="the revealed key (32 hex digits)")
    parser.add_argument("--beacon", help="the beacon typed in before opening, if any")
    parser.add_argument("--commitment", help="the commitment published before opening: checked against the key")
    parser.add_argument("--size", type=int, help="the pre-queue's size")
    parser.add_argument("--seq", type=int, help="print the drawn place of this pre-queue number")
    parser.add_argument("--first", type=int, default=10, help="print the places of pre-queue numbers 1..K")
    parser.add_argument("--all", action="store_true", help="print every place (seq place per line) and check it is a permutation")
    args = parser.parse_args()

    if args.print_vectors:
        print("| key | beacon | pre-queue | commitment | permutation key | places of numbers 1..10 |")
        print("|---|---|---|---|---|---|")
        for key, beacon, size, com, dkey, first in vector_rows():
            print(f"| `{key}` | {('`' + beacon + '`') if beacon else '—'} | {size:,} | `{com}` | `{dkey}` | {', '.join(map(str, first))} |")
        return 0
    if args.check_vectors:
        failures = 0
        for row, expected in zip(vector_rows(), [tuple(k) for k in KNOWN]):
            if row != expected:
                failures += 1
                print(f"FAIL {row[0]} beacon={row[1]} size={row[2]}:\n  got      {row[3:]}\n  expected {expected[3:]}")
        # A bijection check on a few sizes as well (the vectors alone would not catch a broken cycle walk).
        for size in (1, 2, 3, 5, 17, 1000, 4097):
            lottery = Lottery(size, "00112233445566778899aabbccddeeff")
            if sorted(lottery.permute(i) for i in range(size)) != list(range(size)):
                failures += 1
                print(f"FAIL not a permutation of {size}")
        print(f"lottery vectors: {failures} failure(s)" if failures else f"lottery vectors: all {len(KNOWN)} match; bijections hold")
        return 1 if failures else 0

    if not args.key or args.size is None:
        parser.error("--key and --size (or --check-vectors)")
    ok = True
    if args.commitment is not None:
        if hmac.compare_digest(commitment(args.key), args.commitment.lower()):
            print(f"commitment: OK (sha256({args.key}) = {args.commitment})")
        else:
            print(f"commitment: FAIL (sha256({args.key}) = {commitment(args.key)}, published {args.commitment})")
            ok = False
    lottery = Lottery(args.size, draw_key(args.key, args.beacon))
    print(f"permutation key: {draw_key(args.key, args.beacon)}")
    if args.seq is not None:
        print(f"pre-queue number {args.seq} -> place {lottery.place(args.seq)}")
    elif args.all:
        seen = bytearray(args.size + 1)
        for seq in range(1, args.size + 1):
            place = lottery.place(seq)
            if seen[place]:
                ok = False
            seen[place] = 1
            print(seq, place)
    else:
        for seq in range(1, min(args.first, args.size) + 1):
            print(seq, lottery.place(seq))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
