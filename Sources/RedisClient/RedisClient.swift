import Logging

/// Something that happened to the client's connection, for metrics and logs.
public enum RedisClientEvent: Sendable {
    case connected
    case reconnected
    case connectFailed(RedisError)
    case disconnected(RedisError)
}

/// An async Redis client with automatic pipelining on one hiredis connection.
///
/// Every command goes through ``send(_:)``; everything issued concurrently shares a round trip.
///
/// ```swift
/// let redis = RedisClient(configuration: try RedisConfiguration(url: "redis://127.0.0.1:6379"))
/// let n = try await redis.incrby("counter", 1)
/// ```
public final class RedisClient: Sendable {
    private let connection: RedisConnection
    let scripts = ScriptRegistry()

    public init(
        configuration: RedisConfiguration,
        logger: Logger = Logger(label: "redis"),
        events: (@Sendable (RedisClientEvent) -> Void)? = nil
    ) {
        connection = RedisConnection(configuration: configuration, logger: logger, events: events)
    }

    deinit {
        connection.close()
    }

    /// True while a connection to Redis is up.
    public var isConnected: Bool { connection.isConnected }

    /// Sends one command and returns its reply. An error reply is returned as `.error`, not thrown, so
    /// callers can tell a Redis error from a failure to reach Redis; use ``execute(_:)`` to throw on it.
    public func send(_ command: [RedisArgument]) async throws(RedisError) -> RedisReply {
        var encoded: [UInt8] = []
        encoded.reserveCapacity(32)
        RESPEncoder.encode(command, into: &encoded)
        let replies = try await submit(encoded, count: 1)
        return replies[0]
    }

    /// Sends several commands in one write and returns their replies in order (an explicit pipeline).
    public func pipeline(_ commands: [[RedisArgument]]) async throws(RedisError) -> [RedisReply] {
        guard !commands.isEmpty else { return [] }
        var encoded: [UInt8] = []
        for command in commands { RESPEncoder.encode(command, into: &encoded) }
        return try await submit(encoded, count: commands.count)
    }

    /// Like ``send(_:)`` but an error reply throws ``RedisError/server(_:)``.
    @discardableResult
    public func execute(_ command: [RedisArgument]) async throws(RedisError) -> RedisReply {
        let reply = try await send(command)
        if case .error(let message) = reply { throw .server(message) }
        return reply
    }

    /// Stops the I/O thread; commands still queued fail with ``RedisError/closed``.
    public func close() {
        connection.close()
    }

    private func submit(_ encoded: [UInt8], count: Int) async throws(RedisError) -> [RedisReply] {
        let result: Result<[RedisReply], RedisError> = await withUnsafeContinuation { continuation in
            connection.enqueue(encoded, count: count) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }
}
