import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Something that happened to the client's connection, for metrics and logs.
public enum RedisClientEvent: Sendable {
    case connected
    case reconnected
    case connectFailed(RedisError)
    case disconnected(RedisError)
}

/// An async Redis client with automatic pipelining: one SwiftNIO channel per connection (plain TCP, TLS or a
/// unix socket), hiredis as the RESP parser.
///
/// Every command goes through ``send(_:)``; everything issued concurrently shares a connection and its round
/// trips. Each command has its own deadline (``RedisConfiguration/commandTimeout``). Callers whose stalls
/// must not delay others get their own connection with ``lane(_:)``.
///
/// ```swift
/// let redis = RedisClient(configuration: try RedisConfiguration(url: "rediss://cache.example.com:6379"))
/// let n = try await redis.incrby("counter", 1)
/// let refresh = redis.lane("refresh")   // same server, its own connection
/// ```
public final class RedisClient: Sendable {
    private let connection: RedisConnection
    /// Set for a `redis-cluster://` URL: then every command goes through it, never through ``connection``.
    private let cluster: ClusterRouter?
    private let configuration: RedisConfiguration
    private let logger: Logger
    private let events: (@Sendable (RedisClientEvent) -> Void)?
    private let eventLoopGroup: any EventLoopGroup
    private let lanes = Mutex<[String: RedisClient]>([:])
    let scripts: ScriptRegistry

    /// - Parameters:
    ///   - configuration: where and how to connect; nothing connects until the first command.
    ///   - logger: connection failures (one line per failure streak), drops and recoveries.
    ///   - events: connection events, for metrics.
    ///   - eventLoopGroup: where the channel lives (``defaultEventLoopGroup``: a loop of Redis's own).
    public convenience init(
        configuration: RedisConfiguration,
        logger: Logger = Logger(label: "redis"),
        events: (@Sendable (RedisClientEvent) -> Void)? = nil,
        eventLoopGroup: any EventLoopGroup = RedisClient.defaultEventLoopGroup
    ) {
        self.init(configuration: configuration, logger: logger, events: events, eventLoopGroup: eventLoopGroup, scripts: ScriptRegistry())
    }

    private init(
        configuration: RedisConfiguration,
        logger: Logger,
        events: (@Sendable (RedisClientEvent) -> Void)?,
        eventLoopGroup: any EventLoopGroup,
        scripts: ScriptRegistry
    ) {
        self.configuration = configuration
        self.logger = logger
        self.events = events
        self.eventLoopGroup = eventLoopGroup
        self.scripts = scripts
        let eventLoop = eventLoopGroup.next()
        var locator: (@Sendable () async throws(RedisError) -> RedisConfiguration.Endpoint)?
        if case .sentinel(let sentinel) = configuration.topology {
            let sentinels = SentinelLocator(sentinel: sentinel, configuration: configuration, eventLoop: eventLoop, logger: logger)
            locator = { () throws(RedisError) in try await sentinels.locate() }
        }
        connection = RedisConnection(
            configuration: configuration, eventLoop: eventLoop, counters: RedisCounters(), logger: logger, events: events, locator: locator
        )
        if case .cluster(let seeds) = configuration.topology {
            cluster = ClusterRouter(
                configuration: configuration, seeds: seeds, eventLoop: eventLoop, counters: connection.counters, logger: logger, events: events
            )
        } else {
            cluster = nil
        }
    }

    deinit {
        connection.close()
        cluster?.close()
    }

    /// A client for the same server on a connection of its own, made once per name and closed with this
    /// client. Give each caller class whose stalls must not hold up others its own lane: the cache refresh
    /// ticks (big replies, every 100 ms) use `lane("refresh")`, so joins and claims never queue behind them.
    /// Lanes share the loaded-script cache.
    public func lane(_ name: String) -> RedisClient {
        lanes.withLock { lanes in
            if let existing = lanes[name] { return existing }
            var logger = self.logger
            logger[metadataKey: "redis_lane"] = "\(name)"
            let made = RedisClient(configuration: configuration, logger: logger, events: events, eventLoopGroup: eventLoopGroup, scripts: scripts)
            lanes[name] = made
            return made
        }
    }

    /// What this client's own connection has written so far (lanes count separately).
    public var statistics: RedisStatistics { connection.counters.snapshot }

    /// True for a `redis-cluster://` client: rooms live on several nodes, and one node failing says nothing
    /// of the others.
    public var isCluster: Bool { cluster != nil }

    /// True while a connection to Redis is up.
    public var isConnected: Bool { cluster?.isConnected ?? connection.isConnected }

    /// Sends one command and returns its reply. An error reply is returned as `.error`, not thrown, so
    /// callers can tell a Redis error from a failure to reach Redis; use ``execute(_:)`` to throw on it.
    public func send(_ command: [RedisArgument]) async throws(RedisError) -> RedisReply {
        if let cluster { return try await cluster.pipeline([command])[0] }
        var encoded: [UInt8] = []
        encoded.reserveCapacity(32)
        RESPEncoder.encode(command, into: &encoded)
        let replies = try await submit(encoded, count: 1)
        return replies[0]
    }

    /// Sends several commands in one write and returns their replies in order (an explicit pipeline). On a
    /// Cluster, one write per node: each command goes to its key's node, a keyless one (`WAIT`) with the
    /// command before it.
    public func pipeline(_ commands: [[RedisArgument]]) async throws(RedisError) -> [RedisReply] {
        guard !commands.isEmpty else { return [] }
        if let cluster { return try await cluster.pipeline(commands) }
        var encoded: [UInt8] = []
        for command in commands { RESPEncoder.encode(command, into: &encoded) }
        return try await submit(encoded, count: commands.count)
    }

    /// `commands`, then `wait` (a `WAIT`, when given) in the same write on the same connection: each command's
    /// reply, and the `WAIT` answer that covers it (none without `wait`). On a Cluster each node's write ends
    /// with its own `WAIT` and each command is covered by its node's answer; a node that fails fails its own
    /// commands only.
    func pipeline(_ commands: [[RedisArgument]], wait: [RedisArgument]?) async throws(RedisError) -> (replies: [Result<RedisReply, RedisError>], waits: [RedisReply]) {
        if let cluster { return try await cluster.pipeline(commands, wait: wait) }
        guard let wait else { return (try await pipeline(commands).map { .success($0) }, []) }
        var replies = try await pipeline(commands + [wait])
        let answer = replies.removeLast()
        return (replies.map { .success($0) }, Array(repeating: answer, count: replies.count))
    }

    /// Like ``send(_:)`` but an error reply throws ``RedisError/server(_:)``.
    @discardableResult
    public func execute(_ command: [RedisArgument]) async throws(RedisError) -> RedisReply {
        let reply = try await send(command)
        if case .error(let message) = reply { throw .server(message) }
        return reply
    }

    /// Closes the connection and every lane's; commands waiting or in flight fail with ``RedisError/closed``.
    public func close() {
        connection.close()
        cluster?.close()
        for lane in lanes.withLock({ Array($0.values) }) { lane.close() }
    }

    /// Sends a keyless command to every primary: each Cluster primary, else the one server (one reply). For
    /// figures that are per node, such as `INFO commandstats` or `INFO memory`, summed by the caller.
    public func everyPrimary(_ command: [RedisArgument]) async throws(RedisError) -> [RedisReply] {
        if let cluster { return try await cluster.everyPrimary(command) }
        return [try await send(command)]
    }

    /// Sends a keyless command to every primary (`SCRIPT LOAD`: each Cluster node has its own script cache);
    /// the first error reply, else the first reply.
    func broadcastOrSend(_ command: [RedisArgument]) async throws(RedisError) -> RedisReply {
        let replies = try await everyPrimary(command)
        return replies.first { if case .error = $0 { true } else { false } } ?? replies.first ?? .null
    }

    private func submit(_ encoded: [UInt8], count: Int) async throws(RedisError) -> [RedisReply] {
        try await connection.submit(encoded, count: count).get()
    }
}

extension RedisClient {
    /// The event loop every client's connections live on unless told otherwise: one thread, shared by all
    /// clients and lanes in the process. Not Hummingbird's HTTP loops: measured with 2,000 shoppers polling
    /// two gates in one process, replies that waited behind HTTP work on a shared loop missed a 500 ms deadline;
    /// on their own loop they did not. Nothing on it blocks, so one thread serves every connection.
    public static let defaultEventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
}
