import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// One Redis connection as a SwiftNIO channel: plain TCP, TLS or a unix socket. No thread of its own: the
/// channel's event loop writes, reads, parses and completes callers, and nothing on it blocks.
///
/// Life cycle, all on the event loop: `idle` → `connecting` (TCP, then TLS, then AUTH / SELECT / PING in one
/// write) → `ready` → on a drop, straight back to `connecting`; a failed attempt → `backingOff` (doubling
/// up to ``RedisConfiguration/maxBackoff``) → `connecting`, with or without traffic, so the client recovers
/// by itself. While connecting, requests wait with their own deadlines and those whose deadline passes are
/// failed without ever being written; while backing off, requests fail at once.
final class RedisConnection: @unchecked Sendable {
    // @unchecked: every mutable field below is touched on `eventLoop` only.
    private enum State {
        case idle
        case connecting
        case ready(RedisChannelHandler)
        case backingOff
        case closed
    }

    let eventLoop: any EventLoop
    private let configuration: RedisConfiguration
    private let tls: Result<RedisTLSContext, RedisError>?
    private let logger: Logger
    private let events: (@Sendable (RedisClientEvent) -> Void)?
    /// Finds the server before every connection attempt (Sentinel: the current primary); nil: the
    /// configured endpoint. With a locator, the handshake also checks `ROLE`, so nothing is written to a
    /// replica, and a `READONLY` reply drops the connection so the next one asks again.
    private let locator: (@Sendable () async throws(RedisError) -> RedisConfiguration.Endpoint)?
    let counters: RedisCounters
    private let connectedFlag = Atomic<Bool>(false)

    private var state = State.idle
    private var waiting = CircularBuffer<RedisRequest>()
    private var waitingTimer: Scheduled<Void>?
    private var waitingTimerDeadline = NIODeadline.distantFuture
    private var backoff: Duration
    private var hasEverConnected = false
    private var failing = false
    private var lastError: RedisError = .notConnected("not connected yet")

    init(
        configuration: RedisConfiguration,
        eventLoop: any EventLoop,
        counters: RedisCounters,
        logger: Logger,
        events: (@Sendable (RedisClientEvent) -> Void)?,
        locator: (@Sendable () async throws(RedisError) -> RedisConfiguration.Endpoint)? = nil
    ) {
        self.locator = locator
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.counters = counters
        self.logger = logger
        self.events = events
        self.backoff = configuration.minBackoff
        // Certificates and keys are read here, on the caller's thread, never on the event loop.
        switch (configuration.tls, configuration.endpoint) {
        case (nil, _):
            tls = nil
        case (let settings?, .tcp(let host, _)):
            do throws(RedisError) { tls = .success(try RedisTLSContext.make(settings, host: host)) } catch { tls = .failure(error) }
        case (_?, .unix):
            tls = .failure(.tls("TLS needs a TCP endpoint (rediss://host:port), not a unix socket"))
        }
    }

    var isConnected: Bool { connectedFlag.load(ordering: .relaxed) }

    /// Sends encoded commands; the result arrives when Redis answers, the deadline passes or the connection fails.
    func submit(_ encoded: [UInt8], count: Int) async -> Result<[RedisReply], RedisError> {
        let deadline = NIODeadline.now() + TimeAmount(configuration.commandTimeout)
        let result = await withUnsafeContinuation { continuation in
            let request = RedisRequest(encoded: encoded, count: count, deadline: deadline, completion: .continuation(continuation))
            if eventLoop.inEventLoop {
                accept(request)
            } else {
                eventLoop.execute { self.accept(request) }
            }
        }
        if locator != nil, case .success(let replies) = result, replies.contains(where: Self.isReadOnly) {
            // The server we write to became a replica (a failover we did not see): find the primary again.
            eventLoop.execute { self.dropConnection(.connectionLost("the server became a replica (READONLY)")) }
        }
        return result
    }

    private static func isReadOnly(_ reply: RedisReply) -> Bool {
        if case .error(let message) = reply { message.hasPrefix("READONLY") } else { false }
    }

    /// Closes the current connection (if any); the usual reconnect follows.
    private func dropConnection(_ reason: RedisError) {
        if case .ready(let handler) = state { handler.close(with: reason) }
    }

    /// Fails everything waiting or in flight with ``RedisError/closed`` and stops reconnecting.
    func close() {
        eventLoop.execute {
            let previous = self.state
            self.state = .closed
            self.connectedFlag.store(false, ordering: .relaxed)
            self.failWaiting(.closed)
            if case .ready(let handler) = previous { handler.close(with: .closed) }
        }
    }

    // MARK: - On the event loop

    private func accept(_ request: RedisRequest) {
        switch state {
        case .ready(let handler):
            handler.send(request)
        case .connecting:
            wait(request)
        case .idle:
            wait(request)
            connect()
        case .backingOff:
            request.complete(.failure(.notConnected(lastError.description)))
        case .closed:
            request.complete(.failure(.closed))
        }
    }

    private func wait(_ request: RedisRequest) {
        waiting.append(request)
        if waitingTimer == nil || request.deadline < waitingTimerDeadline { armWaitingTimer(at: request.deadline) }
    }

    private func armWaitingTimer(at deadline: NIODeadline) {
        waitingTimer?.cancel()
        waitingTimerDeadline = deadline
        waitingTimer = eventLoop.scheduleTask(deadline: deadline) { self.waitingDeadlinePassed() }
    }

    /// Requests whose deadline passed while no connection was ready fail now, unwritten.
    private func waitingDeadlinePassed() {
        waitingTimer = nil
        let now = NIODeadline.now()
        var kept = CircularBuffer<RedisRequest>(initialCapacity: waiting.count)
        while let request = waiting.popFirst() {
            if request.deadline <= now { request.complete(.failure(.timeout)) } else { kept.append(request) }
        }
        waiting = kept
        if let earliest = waiting.lazy.map(\.deadline).min() { armWaitingTimer(at: earliest) }
    }

    private func failWaiting(_ error: RedisError) {
        waitingTimer?.cancel()
        waitingTimer = nil
        while let request = waiting.popFirst() { request.complete(.failure(error)) }
    }

    private func connect() {
        if case .closed = state { return }
        state = .connecting
        startConnecting()
    }

    private func startConnecting() {
        guard let locator else { return startConnecting(to: configuration.endpoint) }
        let eventLoop = self.eventLoop
        Task {
            let result: Result<RedisConfiguration.Endpoint, RedisError>
            do throws(RedisError) { result = .success(try await locator()) } catch { result = .failure(error) }
            eventLoop.execute {
                guard case .connecting = self.state else { return }
                switch result {
                case .success(let endpoint): self.startConnecting(to: endpoint)
                case .failure(let error): self.connectFailed(error)
                }
            }
        }
    }

    private func startConnecting(to endpoint: RedisConfiguration.Endpoint) {
        let tlsContext: RedisTLSContext?
        switch tls {
        case nil: tlsContext = nil
        case .success(let context):
            if case .tcp(let host, _) = endpoint, locator != nil { tlsContext = context.forHost(host) } else { tlsContext = context }
        case .failure(let error):
            connectFailed(error)
            return
        }
        let counters = self.counters
        var bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tlsContext {
                        let (tls, nameCheck) = try tlsContext.makeHandlers(eventLoop: channel.eventLoop)
                        try channel.pipeline.syncOperations.addHandlers(tls, nameCheck)
                    }
                    let handler = RedisChannelHandler(counters: counters) { handler, reason in self.channelClosed(handler, reason) }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        if case .tcp = endpoint {
            bootstrap = bootstrap
                .channelOption(.socketOption(.so_keepalive), value: 1)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
        }
        let connected: EventLoopFuture<any Channel>
        switch endpoint {
        case .tcp(let host, let port): connected = bootstrap.connect(host: host, port: port)
        case .unix(let path): connected = bootstrap.connect(unixDomainSocketPath: path)
        }
        connected.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let channel):
                do {
                    let handler = try channel.pipeline.syncOperations.handler(type: RedisChannelHandler.self)
                    guard tlsContext != nil else { return self.handshake(handler, endpoint) }
                    // Nothing is written (AUTH carries a password) before the certificate's name checked out.
                    let nameCheck = try channel.pipeline.syncOperations.handler(type: RedisTLSNameCheck.self)
                    let timeout = self.configuration.connectTimeout
                    let bound = NIOLoopBound(nameCheck, eventLoop: self.eventLoop)
                    let timer = self.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                        bound.value.give(up: .tls("no TLS handshake within \(timeout)"))
                        channel.close(promise: nil)
                    }
                    nameCheck.verified.futureResult
                        .assumeIsolated().whenComplete { result in
                            timer.cancel()
                            switch result {
                            case .success: self.handshake(handler, endpoint)
                            case .failure(let error):
                                channel.close(promise: nil)
                                self.connectFailed(RedisTLSContext.failure(error) ?? .tls("\(error)"))
                            }
                        }
                } catch {
                    channel.close(promise: nil)
                    self.connectFailed(.connectionFailed("\(error)"))
                }
            case .failure(let error):
                self.connectFailed(RedisTLSContext.failure(error) ?? Self.connectError(error))
            }
        }
    }

    /// AUTH and SELECT when configured, then PING, in one write; the connection is ready only once Redis
    /// has answered (so a stopped or loading Redis never receives the requests waiting for it).
    private func handshake(_ handler: RedisChannelHandler, _ endpoint: RedisConfiguration.Endpoint) {
        var commands: [[RedisArgument]] = []
        if let password = configuration.password {
            if let username = configuration.username {
                commands.append(["AUTH", RedisArgument(username), RedisArgument(password)])
            } else {
                commands.append(["AUTH", RedisArgument(password)])
            }
        }
        if configuration.database != 0 {
            commands.append(["SELECT", RedisArgument(configuration.database)])
        }
        commands.append(["PING"])
        // A located server must say it is the primary: a sentinel's answer can be stale during a failover.
        if locator != nil { commands.append(["ROLE"]) }
        var encoded: [UInt8] = []
        for command in commands { RESPEncoder.encode(command, into: &encoded) }
        let timeout = configuration.connectTimeout
        let bound = NIOLoopBound(handler, eventLoop: eventLoop)
        let request = RedisRequest(
            encoded: encoded, count: commands.count, deadline: .now() + TimeAmount(timeout),
            completion: .callback { result in
                // Completed by the handler, on the event loop.
                let handler = bound.value
                switch result {
                case .success(let replies):
                    if let message = replies.lazy.compactMap({ if case .error(let message) = $0 { message } else { nil } }).first {
                        handler.close(with: .connectionFailed(message))
                        self.connectFailed(.connectionFailed(message))
                    } else if self.locator != nil, let role = replies.last?.array?.first?.string, role != "master" {
                        handler.close(with: .connectionFailed("not the primary"))
                        self.connectFailed(.connectionFailed("\(endpoint) is a \(role), not the primary"))
                    } else {
                        self.ready(handler)
                    }
                case .failure(.timeout):
                    self.connectFailed(.connectionFailed("no answer to PING within \(timeout)"))
                case .failure(let error):
                    self.connectFailed(error)
                }
            }
        )
        handler.send(request)
    }

    private func ready(_ handler: RedisChannelHandler) {
        guard case .connecting = state else {
            handler.close(with: .closed)
            return
        }
        state = .ready(handler)
        connectedFlag.store(true, ordering: .relaxed)
        backoff = configuration.minBackoff
        events?(hasEverConnected ? .reconnected : .connected)
        if failing { logger.info("redis connection restored") } else { logger.debug("redis connected") }
        hasEverConnected = true
        failing = false
        waitingTimer?.cancel()
        waitingTimer = nil
        while let request = waiting.popFirst() { handler.send(request) }
    }

    private func connectFailed(_ error: RedisError) {
        guard case .connecting = state else { return }
        state = .backingOff
        connectedFlag.store(false, ordering: .relaxed)
        // One line per failure streak (and when the reason changes), not one per retry.
        if !failing || error != lastError {
            logger.error("redis connect failed; retrying with backoff", metadata: ["error": "\(error)"])
        }
        failing = true
        lastError = error
        events?(.connectFailed(error))
        failWaiting(error)
        let wait = backoff
        backoff = min(backoff * 2, configuration.maxBackoff)
        eventLoop.scheduleTask(in: TimeAmount(wait)) {
            if case .backingOff = self.state { self.connect() }
        }
    }

    private func channelClosed(_ handler: RedisChannelHandler, _ reason: RedisError) {
        guard case .ready(let current) = state, current === handler else { return }
        connectedFlag.store(false, ordering: .relaxed)
        logger.warning("redis connection dropped", metadata: ["error": "\(reason)"])
        lastError = reason
        events?(.disconnected(reason))
        // Straight back: requests wait (with their deadlines) for the new connection's handshake.
        state = .idle
        connect()
    }

    private static func connectError(_ error: any Error) -> RedisError {
        if let error = error as? ChannelError, case .connectTimeout(let amount) = error {
            return .connectionFailed("connect timed out after \(amount.nanoseconds / 1_000_000) ms")
        }
        return .connectionFailed("\(error)")
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

extension Duration {
    /// The duration in seconds, as a `Double` (for rates and timeouts).
    public var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}
