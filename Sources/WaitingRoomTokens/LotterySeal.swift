/// The commit–reveal of the pre-queue lottery (README "A draw anyone can check").
///
/// - The **key** is 16 random bytes written as 32 lowercase hex digits. It is drawn when a room gets an
///   opening time and kept secret (a Redis key of its own, never part of the room hash) until opening.
/// - The **commitment** is the lowercase hex SHA-256 of the key's 32 hex characters as ASCII text, published
///   at once: `printf %s "$KEY" | sha256sum`.
/// - At opening the key is revealed. With a **beacon** (a public value ops named in advance and typed in
///   before opening), the permutation's key is the first 32 hex digits of SHA-256(key text ‖ beacon's UTF-8
///   bytes): `printf %s "$KEY$BEACON" | sha256sum | cut -c1-32`. Without one it is the key itself.
public enum LotterySeal {
    /// A fresh key: 128 bits from OpenSSL's DRBG, 32 lowercase hex digits.
    public static func newKey() -> String {
        HMAC.hex(OpenSSL.randomBytes(16))
    }

    /// The commitment published before opening: hex SHA-256 of the key's text.
    public static func commitment(ofKey key: String) -> String {
        HMAC.hex(OpenSSL.sha256(Array(key.utf8)))
    }

    /// The key the permutation runs on: the revealed key, mixed with the beacon when there is one.
    public static func drawKey(key: String, beacon: String?) -> String {
        guard let beacon, !beacon.isEmpty else { return key }
        return String(HMAC.hex(OpenSSL.sha256(Array((key + beacon).utf8))).prefix(32))
    }

    /// Whether `key` is a well-formed key (32 lowercase hex digits) whose commitment is `commitment`.
    public static func opens(_ commitment: String, with key: String) -> Bool {
        key.utf8.count == 32 && key.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
            && OpenSSL.constantTimeEquals(Array(Self.commitment(ofKey: key).utf8), Array(commitment.utf8))
    }
}
