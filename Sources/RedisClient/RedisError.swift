/// Everything that can go wrong talking to Redis, as a type callers can switch on.
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No connection could be made (refused, unreachable, bad credentials, connect timeout).
    case connectionFailed(String)
    /// The TLS handshake failed or TLS could not be set up: an untrusted certificate, a host name the
    /// certificate does not carry, an unreadable CA, certificate or key file.
    case tls(String)
    /// The connection broke while this command was in flight; it may or may not have run.
    case connectionLost(String)
    /// Redis did not answer within the command timeout. A command that timed out before it was written is
    /// never written; one that was written may still run (the connection is dropped and re-made).
    case timeout
    /// The client is between connections (backing off); the command was not sent.
    case notConnected(String)
    /// The client was closed.
    case closed
    /// Redis answered with an error reply (`-ERR ...`, `-NOSCRIPT ...`, `-LOADING ...`).
    case server(String)
    /// The bytes from Redis were not valid RESP (the connection is dropped).
    case protocolError(String)
    /// A reply had an unexpected shape for the command that was sent.
    case unexpectedReply(String)
    /// A `redis://`, `rediss://` or `unix://` URL could not be understood.
    case invalidURL(String)
    /// `WAIT` confirmed the write on fewer replicas than required within its timeout: the write happened on
    /// the primary but may be lost in a failover, so it must not be promised.
    case notReplicated(acknowledged: Int, required: Int)

    /// Error-reply codes that mean "Redis cannot serve this right now, the same command may work later":
    /// loading its data set, busy in a script, a cluster slot moving, a replica that cannot write or lost
    /// its master.
    public static let retryableServerCodes: Set<Substring> = ["LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "READONLY", "CLUSTERDOWN"]

    /// True when the failure is about reaching Redis rather than about the command itself.
    public var isConnectivity: Bool {
        switch self {
        case .connectionFailed, .tls, .connectionLost, .timeout, .notConnected, .closed, .protocolError: return true
        case .server, .unexpectedReply, .invalidURL, .notReplicated: return false
        }
    }

    /// True when Redis is unavailable for now and the caller should answer "retry later" (HTTP 503 with
    /// `Retry-After`): every connectivity failure, and the retryable error replies
    /// (``retryableServerCodes``: `LOADING`, `BUSY`, `TRYAGAIN`, `MASTERDOWN`, `READONLY`, `CLUSTERDOWN`), and a
    /// write that did not reach enough replicas (``notReplicated(acknowledged:required:)``).
    public var isRetryable: Bool {
        if isConnectivity { return true }
        if case .notReplicated = self { return true }
        guard let code = serverErrorCode else { return false }
        return Self.retryableServerCodes.contains(code)
    }

    /// The first word of an error reply (`"LOADING"` for `-LOADING Redis is loading...`), else `nil`.
    public var serverErrorCode: Substring? {
        guard case .server(let message) = self else { return nil }
        return message.split(separator: " ", maxSplits: 1).first
    }

    public var description: String {
        switch self {
        case .connectionFailed(let why): return "redis connection failed: \(why)"
        case .tls(let why): return "redis TLS failure: \(why)"
        case .connectionLost(let why): return "redis connection lost: \(why)"
        case .timeout: return "redis command timed out"
        case .notConnected(let why): return "redis not connected: \(why)"
        case .closed: return "redis client closed"
        case .server(let message): return "redis error: \(message)"
        case .protocolError(let why): return "redis protocol error: \(why)"
        case .unexpectedReply(let what): return "unexpected redis reply: \(what)"
        case .invalidURL(let url): return "invalid redis URL: \(url)"
        case .notReplicated(let acknowledged, let required):
            return "redis write reached \(acknowledged) of \(required) required replicas"
        }
    }
}
