/// A decoded Redis reply. hiredis replies are turned into this enum at once, so no C pointer escapes the
/// connection thread.
public enum RedisReply: Sendable, Hashable {
    case status(String)
    case error(String)
    case integer(Int64)
    case bulk([UInt8])
    case null
    case array([RedisReply])
}

extension RedisReply {
    /// The reply as a string: status text or bulk bytes as UTF-8; `nil` otherwise.
    public var string: String? {
        switch self {
        case .status(let text): return text
        case .bulk(let bytes): return String(decoding: bytes, as: UTF8.self)
        default: return nil
        }
    }

    /// The reply as an integer: an integer reply, or a bulk/status that parses as one.
    public var int: Int64? {
        switch self {
        case .integer(let value): return value
        case .bulk, .status: return string.flatMap { Int64($0) }
        default: return nil
        }
    }

    /// The reply as a double, for bulk strings such as `INCRBYFLOAT` results.
    public var double: Double? {
        switch self {
        case .integer(let value): return Double(value)
        case .bulk, .status: return string.flatMap { Double($0) }
        default: return nil
        }
    }

    public var array: [RedisReply]? {
        if case .array(let items) = self { return items }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}
