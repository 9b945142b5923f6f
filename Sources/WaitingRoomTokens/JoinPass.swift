import Foundation

/// A join pass: the shop's word that a signed-in customer may take one place in a room, so a bot farm
/// needs shop accounts rather than addresses. A compact JWS signed with HS256 under the room's
/// `joinPassSecret`, claims `{"room": "...", "sub": "<customer id>", "exp": <unix seconds>}`.
///
/// ```swift
/// let key = try JoinPass.Key(secret: settings.joinPassSecret)
/// let pass = try key.verify(text, room: "drop1", nowSeconds: now)    // the same pass.sub always gets one place
/// let text = key.sign(JoinPass(room: "drop1", sub: "customer-42", exp: now + 300))   // what the shop does
/// ```
public struct JoinPass: Codable, Sendable, Equatable {
    public var room: String
    public var sub: String
    public var exp: Int64

    public init(room: String, sub: String, exp: Int64) {
        self.room = room
        self.sub = sub
        self.exp = exp
    }

    /// Passes are short-lived: one that expires further ahead than this is refused (a shop bug, or a leak
    /// that would let a pass be replayed for days).
    public static let maximumLifetimeSeconds: Int64 = 86_400
    /// Customer ids up to this many UTF-8 bytes (they become part of the ticket and a Redis key).
    public static let maximumSubjectBytes = 128

    /// Why a pass was refused.
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case malformed
        case unsupportedAlgorithm
        case badSignature
        case wrongRoom
        case expired
        case tooLongLived
        case badSubject

        public var description: String {
            switch self {
            case .malformed: "not a join pass (compact JWS with room, sub and exp)"
            case .unsupportedAlgorithm: "join passes are signed with HS256"
            case .badSignature: "the pass was not signed with this room's secret"
            case .wrongRoom: "the pass is for another room"
            case .expired: "the pass has expired"
            case .tooLongLived: "the pass expires more than a day ahead"
            case .badSubject: "sub must be 1 to 128 bytes"
            }
        }
    }

    /// An HS256 key, set up once per secret.
    public struct Key: Sendable {
        private let mac: OpenSSL.MACTemplate

        public init(secret: String) throws(TokenError) {
            guard secret.utf8.count >= 32 else { throw .invalidKey("join pass secret must be at least 32 bytes") }
            do { mac = try OpenSSL.MACTemplate(key: Array(secret.utf8)) } catch { throw .invalidKey("\(error)") }
        }

        public func sign(_ pass: JoinPass) -> String {
            let header = Base64URL.encode(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
            let claims = Base64URL.encode(Array((try? JSONWebToken.encoder.encode(pass)) ?? Data()))
            let input = header + "." + claims
            return input + "." + Base64URL.encode(Array(input.utf8).withUnsafeBytes { mac.authenticate($0) })
        }

        /// The pass, when it is well formed, signed with this key, for `room`, and not expired (a minute of leeway).
        public func verify(_ text: String, room: String, nowSeconds: Int64, leewaySeconds: Int64 = 60) throws(Failure) -> JoinPass {
            let segments = text.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
            guard text.utf8.count <= 2_048, segments.count == 3,
                let headerBytes = Base64URL.decode(Substring(segments[0])),
                let payload = Base64URL.decode(Substring(segments[1])),
                let signature = Base64URL.decode(Substring(segments[2]))
            else { throw .malformed }
            guard let header = try? JSONDecoder().decode(JWTHeader.self, from: Data(headerBytes)) else { throw .malformed }
            guard header.alg == "HS256" else { throw .unsupportedAlgorithm }
            let input = Array(text.utf8.prefix(segments[0].count + 1 + segments[1].count))
            let expected = input.withUnsafeBytes { mac.authenticate($0) }
            guard OpenSSL.constantTimeEquals(signature, expected) else { throw .badSignature }
            guard let pass = try? JSONDecoder().decode(JoinPass.self, from: Data(payload)) else { throw .malformed }
            guard pass.room == room else { throw .wrongRoom }
            guard !pass.sub.isEmpty, pass.sub.utf8.count <= maximumSubjectBytes else { throw .badSubject }
            guard pass.exp > nowSeconds.subtractingReportingOverflow(leewaySeconds).partialValue else { throw .expired }
            guard pass.exp.subtractingReportingOverflow(nowSeconds).partialValue <= maximumLifetimeSeconds else { throw .tooLongLived }
            return pass
        }
    }

    /// The queue ticket id of a pass holder: derived from `sub`, so every device of one customer shares
    /// one place and one admission. `~` never starts a random id, so the two kinds cannot collide.
    public static func ticketID(sub: String) -> String {
        "~" + Base64URL.encode(Array(sub.utf8))
    }

    /// The customer of a pass holder's ticket id; nil for an anonymous ticket.
    public static func subject(ticketID: String) -> String? {
        guard ticketID.hasPrefix("~"), let bytes = Base64URL.decode(ticketID.dropFirst()) else { return nil }
        return String(bytes: bytes, encoding: .utf8)
    }
}
