/// A public key as RFC 7517 / RFC 8037 write it (`kty: OKP`, `crv: Ed25519`).
public struct JSONWebKey: Codable, Sendable, Equatable {
    public var kty: String
    public var crv: String?
    public var x: String?
    public var kid: String?
    public var use: String?
    public var alg: String?

    public init(kty: String, crv: String?, x: String?, kid: String?, use: String?, alg: String?) {
        self.kty = kty
        self.crv = crv
        self.x = x
        self.kid = kid
        self.use = use
        self.alg = alg
    }
}

/// A JWKS document: `{"keys": [...]}`, served at `/.well-known/jwks.json`.
public struct JSONWebKeySet: Codable, Sendable, Equatable {
    public var keys: [JSONWebKey]

    public init(keys: [JSONWebKey]) {
        self.keys = keys
    }

    /// The Ed25519 signature keys in this set; other key types are ignored, as RFC 7517 §5 allows.
    public func ed25519Keys() -> [Ed25519PublicKey] {
        keys.compactMap { jwk in
            guard jwk.kty == "OKP", jwk.crv == "Ed25519", jwk.use ?? "sig" == "sig", jwk.alg ?? "EdDSA" == "EdDSA",
                let x = jwk.x, let raw = Base64URL.decode(x), raw.count == 32,
                let key = try? Ed25519PublicKey(raw: raw)
            else { return nil }
            return key
        }
    }
}
