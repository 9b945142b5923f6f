import Foundation

/// An Ed25519 private key, built into an OpenSSL key object once and reused for every signature.
public struct Ed25519PrivateKey: Sendable {
    let key: OpenSSL.Key
    public let publicKey: Ed25519PublicKey
    private let seed: [UInt8]

    /// A new random key.
    public init() {
        try! self.init(seed: OpenSSL.randomBytes(32))
    }

    /// The key with this 32-byte seed (RFC 8032 private key).
    public init(seed: [UInt8]) throws(TokenError) {
        do {
            key = try OpenSSL.ed25519PrivateKey(raw: seed)
            publicKey = try Ed25519PublicKey(raw: OpenSSL.rawPublicKey(key))
        } catch {
            throw .invalidKey("\(error)")
        }
        self.seed = seed
    }

    /// Reads a PKCS#8 PEM, as `openssl genpkey -algorithm ed25519` and `waitroom keys generate` write.
    public init(pem: String) throws(TokenError) {
        let seed: [UInt8]
        do {
            seed = try OpenSSL.ed25519Seed(fromPEM: pem)
        } catch {
            throw .invalidKey("\(error)")
        }
        try self.init(seed: seed)
    }

    public init(pemFile path: String) throws(TokenError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .invalidKey("cannot read \(path): \(error.localizedDescription)")
        }
        try self.init(pem: text)
    }

    /// The key as a PKCS#8 PEM document.
    public func pem() throws(TokenError) -> String {
        do {
            return try OpenSSL.pkcs8PEM(key)
        } catch {
            throw .invalidKey("\(error)")
        }
    }

    public func sign(_ message: [UInt8]) -> [UInt8] {
        OpenSSL.sign(message, with: key)
    }
}

/// An Ed25519 public key; its `kid` is the RFC 7638 JWK thumbprint.
public struct Ed25519PublicKey: Sendable {
    let key: OpenSSL.Key
    public let raw: [UInt8]
    public let keyID: String

    public init(raw: [UInt8]) throws(TokenError) {
        do {
            key = try OpenSSL.ed25519PublicKey(raw: raw)
        } catch {
            throw .invalidKey("\(error)")
        }
        self.raw = raw
        // RFC 7638 §3.2: required members only, lexicographic order, no whitespace.
        let canonical = #"{"crv":"Ed25519","kty":"OKP","x":"\#(Base64URL.encode(raw))"}"#
        keyID = Base64URL.encode(OpenSSL.sha256(Array(canonical.utf8)))
    }

    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        OpenSSL.verify(signature, of: message, with: key)
    }

    /// The key as a JWK for a JWKS document.
    public var jwk: JSONWebKey {
        JSONWebKey(kty: "OKP", crv: "Ed25519", x: Base64URL.encode(raw), kid: keyID, use: "sig", alg: "EdDSA")
    }
}
