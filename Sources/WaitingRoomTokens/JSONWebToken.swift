import Foundation

/// The JOSE header of our tokens.
public struct JWTHeader: Codable, Sendable, Equatable {
    public var alg: String
    public var typ: String?
    public var kid: String?

    public init(alg: String, typ: String? = "JWT", kid: String?) {
        self.alg = alg
        self.typ = typ
        self.kid = kid
    }
}

/// Claims that know how to check their own time window against an injected clock.
public protocol JWTClaims: Codable, Sendable {
    func validate(now: Date, leeway: TimeInterval) throws(TokenError)
}

/// Compact JWS encoding with EdDSA only. Anything else in `alg` is refused before a key is looked at.
public enum JSONWebToken {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    public static func sign<Claims: Encodable>(_ claims: Claims, with key: Ed25519PrivateKey) -> String {
        let header = JWTHeader(alg: "EdDSA", kid: key.publicKey.keyID)
        // Encoding plain structs of strings and numbers cannot fail.
        let headerJSON = try! encoder.encode(header)
        let payloadJSON = try! encoder.encode(claims)
        let signingInput = Base64URL.encode(headerJSON) + "." + Base64URL.encode(payloadJSON)
        let signature = key.sign(Array(signingInput.utf8))
        return signingInput + "." + Base64URL.encode(signature)
    }

    /// The parts of a token before any signature check.
    public struct Parts: Sendable {
        public let header: JWTHeader
        public let signingInput: [UInt8]
        public let payload: [UInt8]
        public let signature: [UInt8]
    }

    /// Splits and decodes a compact token, refusing non-EdDSA algorithms.
    public static func parse(_ token: String) throws(TokenError) -> Parts {
        let segments = token.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard segments.count == 3 else { throw .malformed("expected 3 segments, found \(segments.count)") }
        guard let headerBytes = Base64URL.decode(Substring(segments[0])),
            let payload = Base64URL.decode(Substring(segments[1])),
            let signature = Base64URL.decode(Substring(segments[2]))
        else { throw .malformed("segment is not base64url") }
        let header: JWTHeader
        do {
            header = try JSONDecoder().decode(JWTHeader.self, from: Data(headerBytes))
        } catch {
            throw .malformed("header is not a JSON object with alg")
        }
        guard header.alg == "EdDSA" else { throw .unsupportedAlgorithm(header.alg) }
        let signingInput = Array(token.utf8.prefix(segments[0].count + 1 + segments[1].count))
        return Parts(header: header, signingInput: signingInput, payload: payload, signature: signature)
    }

    /// Checks the signature with the key the header names, decodes the claims and checks their time window.
    public static func verify<Claims: JWTClaims>(
        _ token: String,
        as type: Claims.Type = Claims.self,
        keys: (String?) -> Ed25519PublicKey?,
        now: Date,
        leeway: TimeInterval
    ) throws(TokenError) -> Claims {
        let parts = try parse(token)
        guard let key = keys(parts.header.kid) else { throw .unknownKey(parts.header.kid) }
        guard key.isValidSignature(parts.signature, for: parts.signingInput) else { throw .badSignature }
        let claims: Claims
        do {
            claims = try JSONDecoder().decode(Claims.self, from: Data(parts.payload))
        } catch {
            throw .malformed("claims do not decode")
        }
        try claims.validate(now: now, leeway: leeway)
        return claims
    }
}
