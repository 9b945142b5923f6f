import Foundation

/// The gate's keys: one active signer and any number of keys still published for verification (rotation).
///
/// ```swift
/// let keys = try SigningKeySet(keys: [newKey, oldKey])   // newKey signs; both verify
/// let token = keys.sign(claims)
/// let jwks = keys.jwks                                   // both public keys, by kid
/// ```
public struct SigningKeySet: Sendable {
    public let signer: Ed25519PrivateKey
    public let verificationKeys: VerificationKeySet

    /// - Parameter keys: the first key signs; all of them are published and accepted.
    public init(keys: [Ed25519PrivateKey]) throws(TokenError) {
        guard let first = keys.first else { throw .invalidKey("no signing key") }
        signer = first
        verificationKeys = VerificationKeySet(keys.map(\.publicKey))
    }

    public var activeKeyID: String { signer.publicKey.keyID }

    public var jwks: JSONWebKeySet { verificationKeys.jwks }

    public func sign<Claims: Encodable>(_ claims: Claims) -> String {
        JSONWebToken.sign(claims, with: signer)
    }

    public func verify<Claims: JWTClaims>(_ token: String, as type: Claims.Type = Claims.self, now: Date, leeway: TimeInterval) throws(TokenError) -> Claims {
        try verificationKeys.verify(token, as: type, now: now, leeway: leeway)
    }
}

/// Public keys by `kid`, for checking tokens (the gate's own set, or one loaded from a JWKS).
public struct VerificationKeySet: Sendable {
    private let byID: [String: Ed25519PublicKey]
    public let keys: [Ed25519PublicKey]

    public init(_ keys: [Ed25519PublicKey]) {
        self.keys = keys
        byID = Dictionary(keys.map { ($0.keyID, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public init(jwks: JSONWebKeySet) {
        self.init(jwks.ed25519Keys())
    }

    public func key(id: String?) -> Ed25519PublicKey? {
        guard let id else { return nil }
        return byID[id]
    }

    public var jwks: JSONWebKeySet { JSONWebKeySet(keys: keys.map(\.jwk)) }

    public func verify<Claims: JWTClaims>(_ token: String, as type: Claims.Type = Claims.self, now: Date, leeway: TimeInterval) throws(TokenError) -> Claims {
        try JSONWebToken.verify(token, as: type, keys: key(id:), now: now, leeway: leeway)
    }
}
