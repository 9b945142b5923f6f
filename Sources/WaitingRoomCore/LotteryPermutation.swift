/// The pre-queue lottery: a keyed pseudo-random permutation of `0..<size`, computed without storing a list.
///
/// A balanced Feistel network over the smallest even-bit domain that holds `size`, with cycle walking to
/// stay inside `0..<size`: a bijection by construction, whatever the key. The key is drawn when the room
/// gets its opening time, kept secret and committed to (its SHA-256 published), and revealed at opening, so
/// nobody (bots included) can know or influence the order by arriving early or fast, and anyone can check
/// the draw afterwards. The README's "A draw anyone can check" specifies it byte by byte, with test vectors;
/// `scripts/lottery/lottery.py` is a second implementation held to the same vectors.
///
/// ```swift
/// let lottery = LotteryPermutation(size: 5_000, key: "9f2c…")   // key: 32 hex digits
/// let place = lottery.permute(41)                                 // 0-based place of pre-queue number 41
/// ```
public struct LotteryPermutation: Sendable {
    public let size: UInt64
    private let halfBits: UInt64
    private let halfMask: UInt64
    private let roundKeys: [UInt64]

    private static let rounds = 6

    public init(size: UInt64, key: (UInt64, UInt64)) {
        self.size = size
        var bits: UInt64 = 2
        while bits < 64 && (UInt64(1) << bits) < size { bits += 2 }
        halfBits = bits / 2
        halfMask = (UInt64(1) << halfBits) - 1
        var state = key.0 ^ Self.mix(key.1)
        roundKeys = (0..<Self.rounds).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15
            return Self.mix(state)
        }
    }

    /// - Parameter key: 32 hex digits (128 bits), as stored when the room opens.
    public init?(size: UInt64, key: String) {
        guard key.utf8.count == 32, let high = UInt64(key.prefix(16), radix: 16), let low = UInt64(key.suffix(16), radix: 16) else {
            return nil
        }
        self.init(size: size, key: (high, low))
    }

    /// The place (0-based) drawn for pre-queue number `index` (0-based, `< size`).
    public func permute(_ index: UInt64) -> UInt64 {
        precondition(index < size, "index outside the permutation")
        var value = index
        repeat { value = encrypt(value) } while value >= size
        return value
    }

    private func encrypt(_ value: UInt64) -> UInt64 {
        var left = value >> halfBits
        var right = value & halfMask
        for key in roundKeys {
            (left, right) = (right, left ^ (Self.mix(right ^ key) & halfMask))
        }
        return left << halfBits | right
    }

    /// Why `beacon` cannot be a lottery beacon, or nil: 1 to 256 printable ASCII characters (hashed as
    /// bytes, so no Unicode form can make two people hash different bytes for what looks the same).
    public static func beaconProblem(_ beacon: String) -> String? {
        guard (1...256).contains(beacon.utf8.count) else { return "must be 1 to 256 characters" }
        guard beacon.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else { return "must be printable ASCII" }
        guard beacon.first != " ", beacon.last != " " else { return "must not start or end with a space" }
        return nil
    }

    /// The MurmurHash3 64-bit finaliser: every input bit affects every output bit.
    private static func mix(_ input: UInt64) -> UInt64 {
        var x = input
        x ^= x >> 33
        x &*= 0xFF51_AFD7_ED55_8CCD
        x ^= x >> 33
        x &*= 0xC4CE_B9FE_1A85_EC53
        x ^= x >> 33
        return x
    }
}
