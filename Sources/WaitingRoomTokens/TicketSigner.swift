/// Signs and opens compact queue tickets: `<payload>.<base64url HMAC-SHA256>`.
///
/// The payload is opaque here (the core defines its fields). The MAC key is set up in OpenSSL once; checks
/// are constant-time, so a forger learns nothing from how long a refusal took.
public struct TicketSigner: Sendable {
    private let template: OpenSSL.MACTemplate

    /// - Parameter secret: shared by every front-door instance; at least 16 bytes.
    public init(secret: [UInt8]) throws(TokenError) {
        guard secret.count >= 16 else { throw .invalidKey("ticket secret must be at least 16 bytes") }
        do {
            template = try OpenSSL.MACTemplate(key: secret)
        } catch {
            throw .invalidKey("\(error)")
        }
    }

    public func sign(_ payload: String) -> String {
        var payload = payload
        let mac = payload.withUTF8 { template.authenticate(UnsafeRawBufferPointer($0)) }
        return payload + "." + Base64URL.encode(mac)
    }

    /// Returns the payload when the MAC matches; throws ``TokenError/badSignature`` or ``TokenError/malformed(_:)``.
    public func open(_ ticket: String) throws(TokenError) -> Substring {
        // The last "." byte, not Character: a payload ending in a prepending mark (U+0600–U+0605) would join
        // the dot into one grapheme and hide it (found by fuzzing).
        guard ticket.utf8.count <= 512, let dot = ticket.utf8.lastIndex(of: UInt8(ascii: ".")) else { throw .malformed("not a ticket") }
        let payload = ticket[..<dot]
        guard let mac = Base64URL.decode(ticket[ticket.utf8.index(after: dot)...]), mac.count == 32 else {
            throw .malformed("ticket MAC is not base64url")
        }
        let expected = payload.utf8.withContiguousStorageIfAvailable { template.authenticate(UnsafeRawBufferPointer($0)) }
            ?? Array(payload.utf8).withUnsafeBytes { template.authenticate($0) }
        guard OpenSSL.constantTimeEquals(mac, expected) else { throw .badSignature }
        return payload
    }

    /// Random bytes for ids and secrets.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        OpenSSL.randomBytes(count)
    }
}

/// Comparison of secrets (API keys) in constant time: both sides are hashed first, so neither the content
/// nor the length of the expected key leaks through timing.
public enum SecretComparison {
    public static func equals(_ presented: String, _ expected: String) -> Bool {
        OpenSSL.constantTimeEquals(OpenSSL.sha256(Array(presented.utf8)), OpenSSL.sha256(Array(expected.utf8)))
    }
}

/// SHA-256, for cache keys that must not collide (a verified-token cache keyed by the token's hash).
public enum Digest {
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        OpenSSL.sha256(bytes)
    }
}

/// Random URL-safe identifiers (ticket ids, jtis, room epochs) from OpenSSL's DRBG, which runs in user
/// space: drawing one costs no system call (joins are a hot path).
public enum RandomID {
    /// `bytes` random bytes as base64url: 16 characters for the default 12 (96 bits).
    public static func make(bytes: Int = 12) -> String {
        Base64URL.encode(OpenSSL.randomBytes(bytes))
    }
}
