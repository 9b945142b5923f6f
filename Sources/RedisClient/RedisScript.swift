import Synchronization

/// A Lua script, run with EVALSHA. Its SHA is learned from `SCRIPT LOAD` the first time and re-learned
/// when Redis answers `NOSCRIPT` (after a restart or `SCRIPT FLUSH`), so callers never see that error.
///
/// ```swift
/// let bump = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
/// let value = try await redis.run(bump, keys: ["n"], arguments: ["5"])
/// ```
public struct RedisScript: Sendable, Hashable {
    public let source: String

    public init(_ source: String) {
        self.source = source
    }
}

/// The SHA of each script this client has loaded.
final class ScriptRegistry: Sendable {
    private let shas = Mutex<[String: String]>([:])

    func sha(for script: RedisScript) -> String? {
        shas.withLock { $0[script.source] }
    }

    func remember(_ sha: String, for script: RedisScript) {
        shas.withLock { $0[script.source] = sha }
    }
}

extension RedisClient {
    /// Runs `script` with EVALSHA, loading it first if needed; an error reply from the script throws.
    @discardableResult
    public func run(_ script: RedisScript, keys: [RedisArgument], arguments: [RedisArgument] = []) async throws(RedisError) -> RedisReply {
        let reply = try await run(script, calls: [(keys, arguments)])[0]
        if case .error(let message) = reply { throw .server(message) }
        return reply
    }

    /// Loads `script` into Redis and remembers its SHA (used by readiness checks at start-up too).
    @discardableResult
    public func load(_ script: RedisScript) async throws(RedisError) -> String {
        let command: [RedisArgument] = ["SCRIPT", "LOAD", RedisArgument(script.source)]
        // On a Cluster every primary has its own script cache: load it on all of them.
        let reply = try await broadcastOrSend(command)
        if case .error(let message) = reply { throw .server(message) }
        guard let sha = reply.string else { throw .unexpectedReply("SCRIPT LOAD returned \(reply)") }
        scripts.remember(sha, for: script)
        return sha
    }

    func evalsha(_ sha: String, keys: [RedisArgument], arguments: [RedisArgument]) -> [RedisArgument] {
        var command: [RedisArgument] = ["EVALSHA", RedisArgument(sha), RedisArgument(keys.count)]
        command.append(contentsOf: keys)
        command.append(contentsOf: arguments)
        return command
    }
}

/// How many replicas must hold a write before it is promised, and how long Redis may wait for them
/// (`WAIT replicas timeout`).
public struct ReplicaWait: Sendable, Equatable {
    public var replicas: Int
    /// At least 1 ms (`WAIT n 0` would block for ever); keep it below the command timeout.
    public var timeout: Duration

    public init(replicas: Int, timeout: Duration) {
        self.replicas = replicas
        self.timeout = timeout
    }

    var command: [RedisArgument] {
        let ms = max(1, Int64(timeout.seconds * 1000))
        return ["WAIT", RedisArgument(Int64(replicas)), RedisArgument(ms)]
    }
}

extension RedisClient {
    /// Runs one script many times in a single pipelined round trip (EVALSHA each, with the NOSCRIPT fallback).
    /// Error replies from individual calls are returned as `.error`, not thrown.
    ///
    /// When Redis lost the script (a restart, `SCRIPT FLUSH`, a failover) part-way through the batch, only the
    /// calls answered `NOSCRIPT` are sent again, after `SCRIPT LOAD`: the others have already run, and
    /// running them twice would, say, hand out a second range of places.
    public func run(_ script: RedisScript, calls: [(keys: [RedisArgument], arguments: [RedisArgument])]) async throws(RedisError) -> [RedisReply] {
        try await run(script, calls: calls, wait: nil)
    }

    /// Like ``run(_:calls:)``, then `WAIT` in the same write on the same connection, so it covers every call
    /// of the batch: one replication round trip for the whole batch (a group commit's places, or a claim).
    ///
    /// - Throws: ``RedisError/notReplicated(acknowledged:required:)`` when fewer than `wait.replicas`
    ///   replicas confirmed within `wait.timeout`: the calls ran on the primary but must not be promised.
    public func run(_ script: RedisScript, calls: [(keys: [RedisArgument], arguments: [RedisArgument])], wait: ReplicaWait?) async throws(RedisError) -> [RedisReply] {
        try await runEach(script, calls: calls, wait: wait).map { result throws(RedisError) in try result.get() }
    }

    /// Like ``run(_:calls:wait:)``, but each call has its own outcome: a call whose `WAIT` fell short fails
    /// alone with ``RedisError/notReplicated(acknowledged:required:)``. On a Cluster each node's write has its
    /// own `WAIT`, so a node whose replicas are cut off fails the promise of its own calls, not of calls that
    /// other nodes ran and replicated; a node that cannot be reached fails its own calls only. An error reply
    /// from a call is `.success(.error)`, as in ``run(_:calls:)``.
    ///
    /// When Redis lost the script part-way through, only the calls answered `NOSCRIPT` are sent again (after
    /// `SCRIPT LOAD`), with their own `WAIT`: it covers them, the first one covers the others.
    public func runEach(
        _ script: RedisScript, calls: [(keys: [RedisArgument], arguments: [RedisArgument])], wait: ReplicaWait?
    ) async throws(RedisError) -> [Result<RedisReply, RedisError>] {
        guard !calls.isEmpty else { return [] }
        let wait = wait.flatMap { $0.replicas > 0 ? $0 : nil }
        func send(_ indices: [Int], sha: String) async throws(RedisError) -> (replies: [Result<RedisReply, RedisError>], waits: [RedisReply]) {
            try await pipeline(indices.map { evalsha(sha, keys: calls[$0].keys, arguments: calls[$0].arguments) }, wait: wait?.command)
        }
        var sha = scripts.sha(for: script)
        if sha == nil { sha = try await load(script) }
        var (replies, waits) = try await send(Array(calls.indices), sha: sha!)
        let lost = replies.indices.filter { if case .success(let reply) = replies[$0] { Self.isNoScript(reply) } else { false } }
        if !lost.isEmpty {
            let again = try await send(lost, sha: try await load(script))
            for (position, index) in lost.enumerated() {
                replies[index] = again.replies[position]
                if wait != nil { waits[index] = again.waits[position] }
            }
        }
        return replies.indices.map { index -> Result<RedisReply, RedisError> in
            // A failure, or the call's own error reply, comes before what the WAIT says.
            guard let wait, case .success(let reply) = replies[index] else { return replies[index] }
            if case .error = reply { return .success(reply) }
            switch waits[index] {
            case .integer(let count) where Int(count) >= wait.replicas: return .success(reply)
            case .integer(let count): return .failure(.notReplicated(acknowledged: Int(count), required: wait.replicas))
            case .error(let message): return .failure(.server(message))
            case let other: return .failure(.unexpectedReply("WAIT returned \(other)"))
            }
        }
    }

    static func isNoScript(_ reply: RedisReply) -> Bool {
        if case .error(let message) = reply { message.hasPrefix("NOSCRIPT") } else { false }
    }
}
