/// Everything that can go wrong talking to Redis, as a type callers can switch on.
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No connection could be made (refused, unreachable, bad credentials, connect timeout).
    case connectionFailed(String)
    /// The connection broke while this command was in flight; it may or may not have run.
    case connectionLost(String)
    /// Redis did not answer within the command timeout; the connection is dropped and re-made.
    case timeout
    /// The client is between connections (backing off); the command was not sent.
    case notConnected(String)
    /// The client was closed.
    case closed
    /// Redis answered with an error reply (`-ERR ...`, `-NOSCRIPT ...`).
    case server(String)
    /// A reply had an unexpected shape for the command that was sent.
    case unexpectedReply(String)
    /// A `redis://` or `unix://` URL could not be understood.
    case invalidURL(String)

    /// True when the failure is about reaching Redis rather than about the command itself.
    public var isConnectivity: Bool {
        switch self {
        case .connectionFailed, .connectionLost, .timeout, .notConnected, .closed: return true
        case .server, .unexpectedReply, .invalidURL: return false
        }
    }

    public var description: String {
        switch self {
        case .connectionFailed(let why): return "redis connection failed: \(why)"
        case .connectionLost(let why): return "redis connection lost: \(why)"
        case .timeout: return "redis command timed out"
        case .notConnected(let why): return "redis not connected: \(why)"
        case .closed: return "redis client closed"
        case .server(let message): return "redis error: \(message)"
        case .unexpectedReply(let what): return "unexpected redis reply: \(what)"
        case .invalidURL(let url): return "invalid redis URL: \(url)"
        }
    }
}
