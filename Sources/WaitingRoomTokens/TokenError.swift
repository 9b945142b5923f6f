/// Why a token or ticket was refused. Each case is specific, so callers and logs can tell forgery from expiry.
public enum TokenError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not three base64url segments of JSON, or a field of the wrong type.
    case malformed(String)
    /// The header names an algorithm other than EdDSA (including `none` and `HS256`).
    case unsupportedAlgorithm(String)
    /// No key with this `kid` is known.
    case unknownKey(String?)
    /// The signature or MAC does not match.
    case badSignature
    /// `exp` is past (beyond the leeway).
    case expired
    /// `nbf` or `iat` is in the future (beyond the leeway).
    case notYetValid
    case wrongIssuer(String)
    case wrongAudience(String)
    /// A key file or key material could not be used.
    case invalidKey(String)

    public var description: String {
        switch self {
        case .malformed(let why): return "malformed token: \(why)"
        case .unsupportedAlgorithm(let alg): return "unsupported algorithm \(alg)"
        case .unknownKey(let kid): return "unknown key id \(kid ?? "(none)")"
        case .badSignature: return "bad signature"
        case .expired: return "token expired"
        case .notYetValid: return "token not yet valid"
        case .wrongIssuer(let iss): return "wrong issuer \(iss)"
        case .wrongAudience(let aud): return "wrong audience \(aud)"
        case .invalidKey(let why): return "invalid key: \(why)"
        }
    }
}
