import WaitingRoomTokens

/// Why an admission token was refused. `status` is the HTTP answer an order service should give.
public enum VerificationError: Error, Sendable, Equatable, CustomStringConvertible {
    case missing
    case invalid(TokenError)
    case expired
    case wrongRoom(String)
    case keysUnavailable(String)

    /// 401 for missing or invalid tokens, 403 for valid tokens that do not grant this (other room, expired).
    public var status: Int {
        switch self {
        case .missing, .invalid: return 401
        case .expired, .wrongRoom: return 403
        case .keysUnavailable: return 503
        }
    }

    public var code: String {
        switch self {
        case .missing: return "missing_token"
        case .invalid: return "invalid_token"
        case .expired: return "token_expired"
        case .wrongRoom: return "wrong_room"
        case .keysUnavailable: return "keys_unavailable"
        }
    }

    public var description: String {
        switch self {
        case .missing: return "no admission token"
        case .invalid(let error): return "invalid admission token: \(error)"
        case .expired: return "admission token expired"
        case .wrongRoom(let room): return "admission token is for room \(room)"
        case .keysUnavailable(let why): return "cannot load the gate's keys: \(why)"
        }
    }
}
