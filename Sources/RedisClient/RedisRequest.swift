import NIOCore

/// One command, or an explicit pipeline of ``count`` commands, on its way to Redis and back.
struct RedisRequest: Sendable {
    enum Completion: Sendable {
        /// An awaiting caller (every command from ``RedisClient``).
        case continuation(UnsafeContinuation<Result<[RedisReply], RedisError>, Never>)
        /// The connection's own handshake.
        case callback(@Sendable (Result<[RedisReply], RedisError>) -> Void)
    }

    /// The RESP bytes of all ``count`` commands.
    var encoded: [UInt8]
    var count: Int
    /// Past this instant the request fails with ``RedisError/timeout``; if it has not been written yet, it
    /// never is.
    var deadline: NIODeadline
    var completion: Completion
    var replies: [RedisReply] = []

    /// Completes the caller; called exactly once, on the connection's event loop.
    func complete(_ result: Result<[RedisReply], RedisError>) {
        switch completion {
        case .continuation(let continuation): continuation.resume(returning: result)
        case .callback(let callback): callback(result)
        }
    }
}

/// What a client has sent, for benchmarks and the tests that prove commands share writes.
public struct RedisStatistics: Sendable, Equatable {
    /// Commands written to the socket (a pipeline of n commands counts n).
    public var commands: Int
    /// Socket writes (flushes) that carried them: `commands / writes` is the pipelining factor.
    public var writes: Int
}
