import Foundation
import Logging

/// One Redis connection served by a dedicated I/O thread.
///
/// Callers encode their command and enqueue it; the thread takes *everything* queued, appends it to
/// hiredis's buffer in one go, writes it in one round trip and hands the replies back in order. So commands
/// issued concurrently by many tasks share one connection and one round trip (automatic pipelining), and
/// the blocking hiredis calls never run on Swift's cooperative pool or on a NIO event loop.
final class RedisConnection: @unchecked Sendable {
    private struct Pending {
        var encoded: [UInt8]
        var count: Int
        var completion: @Sendable (Result<[RedisReply], RedisError>) -> Void
    }

    private let configuration: RedisConfiguration
    private let logger: Logger
    private let events: (@Sendable (RedisClientEvent) -> Void)?

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [Pending] = []
    private var threadIsWaiting = false
    private var isClosed = false
    private var lastConnectError: String = "not connected yet"
    private var isConnectedFlag = false

    // Owned by the I/O thread.
    private var context: HiredisContext?
    private var backoff: Duration
    private var nextAttempt: ContinuousClock.Instant
    private var hasEverConnected = false

    init(configuration: RedisConfiguration, logger: Logger, events: (@Sendable (RedisClientEvent) -> Void)?) {
        self.configuration = configuration
        self.logger = logger
        self.events = events
        self.backoff = configuration.minBackoff
        self.nextAttempt = .now
        let thread = Thread { [self] in self.run() }
        thread.name = "redis-io"
        thread.start()
    }

    var isConnected: Bool {
        condition.lock()
        defer { condition.unlock() }
        return isConnectedFlag
    }

    /// Enqueues `count` encoded commands; `completion` runs on the I/O thread with their replies in order.
    func enqueue(_ encoded: [UInt8], count: Int, completion: @escaping @Sendable (Result<[RedisReply], RedisError>) -> Void) {
        condition.lock()
        if isClosed {
            condition.unlock()
            completion(.failure(.closed))
            return
        }
        queue.append(Pending(encoded: encoded, count: count, completion: completion))
        let wake = threadIsWaiting
        condition.unlock()
        if wake { condition.signal() }
    }

    func close() {
        condition.lock()
        isClosed = true
        condition.unlock()
        condition.broadcast()
    }

    // MARK: - I/O thread

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !isClosed {
                if context == nil {
                    // Reconnect in the background so the client recovers without traffic.
                    let wait = nextAttempt - .now
                    if wait <= .zero {
                        condition.unlock()
                        connectIfDue()
                        condition.lock()
                        continue
                    }
                    threadIsWaiting = true
                    _ = condition.wait(until: Date(timeIntervalSinceNow: wait.seconds))
                    threadIsWaiting = false
                } else {
                    threadIsWaiting = true
                    condition.wait()
                    threadIsWaiting = false
                }
            }
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            let closing = isClosed
            condition.unlock()

            if closing {
                for pending in batch { pending.completion(.failure(.closed)) }
                context = nil
                setConnected(false)
                return
            }
            process(batch)
        }
    }

    private func process(_ batch: [Pending]) {
        if context == nil { connectIfDue() }
        guard let context else {
            let why = currentConnectError()
            for pending in batch { pending.completion(.failure(.notConnected(why))) }
            return
        }
        do {
            if batch.count == 1 {
                try context.append(batch[0].encoded)
            } else {
                var combined: [UInt8] = []
                combined.reserveCapacity(batch.reduce(0) { $0 + $1.encoded.count })
                for pending in batch { combined.append(contentsOf: pending.encoded) }
                try context.append(combined)
            }
            try context.flush()
        } catch {
            drop(error)
            for pending in batch { pending.completion(.failure(error)) }
            return
        }
        for (index, pending) in batch.enumerated() {
            do {
                var replies: [RedisReply] = []
                replies.reserveCapacity(pending.count)
                for _ in 0..<pending.count { replies.append(try context.readReply()) }
                pending.completion(.success(replies))
            } catch {
                drop(error)
                for failed in batch[index...] { failed.completion(.failure(error)) }
                return
            }
        }
    }

    /// Forgets a broken connection; the next attempt waits for the backoff.
    private func drop(_ error: RedisError) {
        logger.warning("redis connection dropped", metadata: ["error": "\(error)"])
        context = nil
        backoff = configuration.minBackoff
        nextAttempt = .now
        setConnected(false, error: "\(error)")
        events?(.disconnected(error))
    }

    private func connectIfDue() {
        guard context == nil, ContinuousClock.now >= nextAttempt else { return }
        do {
            let made = try HiredisContext.connect(
                to: configuration.endpoint,
                connectTimeout: configuration.connectTimeout,
                commandTimeout: configuration.commandTimeout
            )
            try handshake(made)
            context = made
            backoff = configuration.minBackoff
            if hasEverConnected { events?(.reconnected) } else { events?(.connected) }
            hasEverConnected = true
            setConnected(true)
            logger.debug("redis connected")
        } catch {
            nextAttempt = .now + backoff
            backoff = min(backoff * 2, configuration.maxBackoff)
            setConnected(false, error: "\(error)")
            events?(.connectFailed(error))
        }
    }

    /// AUTH and SELECT, sent on every new connection before any queued command.
    private func handshake(_ context: HiredisContext) throws(RedisError) {
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
        guard !commands.isEmpty else { return }
        var buffer: [UInt8] = []
        for command in commands { RESPEncoder.encode(command, into: &buffer) }
        try context.append(buffer)
        try context.flush()
        for _ in commands {
            if case .error(let message) = try context.readReply() {
                throw .connectionFailed(message)
            }
        }
    }

    private func setConnected(_ connected: Bool, error: String? = nil) {
        condition.lock()
        isConnectedFlag = connected
        if let error { lastConnectError = error }
        condition.unlock()
    }

    private func currentConnectError() -> String {
        condition.lock()
        defer { condition.unlock() }
        return lastConnectError
    }
}

extension Duration {
    /// The duration in seconds, as a `Double` (for rates and timeouts).
    public var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}
