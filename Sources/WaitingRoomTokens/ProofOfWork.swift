/// Hashcash-style proof of work for joins: the gate issues a signed, short-lived challenge; the browser
/// finds a `nonce` such that `SHA-256(challenge + ":" + nonce)` starts with `bits` zero bits (about
/// 2^bits hashes); the gate checks it with one HMAC and one SHA-256.
///
/// The challenge carries its own difficulty, expiry and scope (the room), and is MAC'd with the ticket
/// secret, so any instance can check any instance's challenge and nothing is stored until it is spent
/// (single use is the caller's job, e.g. with `SpentChallenges` keyed by ``Verified/id``).
///
/// Challenge text: `pow1.<scope>.<bits>.<expiresAtMs>.<id>.<mac>`.
///
/// ```swift
/// let pow = ProofOfWork(signer: tickets)
/// let challenge = pow.issue(scope: "drop", bits: 18, nowMs: now)          // send challenge.text to the page
/// let verified = try pow.verify(challenge.text, nonce: "123456", scope: "drop", nowMs: now)
/// ```
public struct ProofOfWork: Sendable {
    /// Difficulties above this are refused when issuing (minutes of work on a phone) or verifying.
    public static let maximumBits = 32
    public static let defaultLifetimeMs: Int64 = 120_000

    public struct Challenge: Sendable, Equatable {
        public let text: String
        public let bits: Int
        public let expiresAtMs: Int64
    }

    public struct Verified: Sendable, Equatable {
        /// Unique per challenge: the key for single use.
        public let id: String
        public let bits: Int
        public let expiresAtMs: Int64
    }

    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case malformed
        case badSignature
        case wrongScope
        case expired
        /// The challenge asked for fewer bits than the caller now requires (difficulty was raised).
        case tooEasy
        case insufficientWork

        public var description: String {
            switch self {
            case .malformed: return "not a proof-of-work challenge"
            case .badSignature: return "challenge was not issued by this gate"
            case .wrongScope: return "challenge is for another room"
            case .expired: return "challenge expired"
            case .tooEasy: return "challenge is easier than the room now requires"
            case .insufficientWork: return "nonce does not solve the challenge"
            }
        }
    }

    let signer: TicketSigner
    public let lifetimeMs: Int64

    public init(signer: TicketSigner, lifetimeMs: Int64 = ProofOfWork.defaultLifetimeMs) {
        self.signer = signer
        self.lifetimeMs = lifetimeMs
    }

    /// A new challenge for `scope` (a room name: no dots) at difficulty `bits` (clamped to 0...maximumBits).
    public func issue(scope: String, bits: Int, nowMs: Int64) -> Challenge {
        let bits = min(max(bits, 0), Self.maximumBits)
        let expires = nowMs + lifetimeMs
        let payload = "pow1.\(scope).\(bits).\(expires).\(RandomID.make())"
        return Challenge(text: signer.sign(payload), bits: bits, expiresAtMs: expires)
    }

    /// Checks a solved challenge. Cost: one HMAC-SHA256 and one SHA-256 over ~100 bytes.
    /// - Parameters:
    ///   - requiredBits: the difficulty the caller requires now; a challenge issued easier is refused.
    public func verify(_ challenge: String, nonce: String, scope: String, requiredBits: Int = 0, nowMs: Int64) throws(Failure) -> Verified {
        guard challenge.utf8.count <= 256, (1...64).contains(nonce.utf8.count),
            nonce.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f })
        else { throw .malformed }
        let payload: Substring
        do {
            payload = try signer.open(challenge)
        } catch .badSignature {
            throw .badSignature
        } catch {
            throw .malformed
        }
        let fields = payload.split(separator: ".", omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0] == "pow1", let bits = Int(fields[2]), (0...Self.maximumBits).contains(bits),
            let expires = Int64(fields[3]), !fields[4].isEmpty
        else { throw .malformed }
        guard fields[1] == scope else { throw .wrongScope }
        guard nowMs <= expires else { throw .expired }
        guard bits >= requiredBits else { throw .tooEasy }
        let digest = OpenSSL.sha256(Array((challenge + ":" + nonce).utf8))
        guard Self.leadingZeroBits(digest) >= bits else { throw .insufficientWork }
        return Verified(id: String(fields[4]), bits: bits, expiresAtMs: expires)
    }

    /// Finds a nonce by brute force (tests, benches and a reference for the JavaScript worker).
    public static func solve(_ challenge: String, bits: Int) -> String {
        var counter = 0
        while true {
            let nonce = String(counter)
            if leadingZeroBits(OpenSSL.sha256(Array((challenge + ":" + nonce).utf8))) >= bits { return nonce }
            counter += 1
        }
    }

    public static func leadingZeroBits(_ digest: [UInt8]) -> Int {
        var count = 0
        for byte in digest {
            if byte == 0 {
                count += 8
                continue
            }
            return count + byte.leadingZeroBitCount
        }
        return count
    }
}
