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
        let reply = try await execute(["SCRIPT", "LOAD", RedisArgument(script.source)])
        guard let sha = reply.string else { throw .unexpectedReply("SCRIPT LOAD returned \(reply)") }
        scripts.remember(sha, for: script)
        return sha
    }

    private func evalsha(_ sha: String, keys: [RedisArgument], arguments: [RedisArgument]) -> [RedisArgument] {
        var command: [RedisArgument] = ["EVALSHA", RedisArgument(sha), RedisArgument(keys.count)]
        command.append(contentsOf: keys)
        command.append(contentsOf: arguments)
        return command
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
        guard !calls.isEmpty else { return [] }
        var sha = scripts.sha(for: script)
        if sha == nil { sha = try await load(script) }
        var replies = try await pipeline(calls.map { evalsha(sha!, keys: $0.keys, arguments: $0.arguments) })
        let lost = replies.indices.filter { Self.isNoScript(replies[$0]) }
        if !lost.isEmpty {
            let reloaded = try await load(script)
            let again = try await pipeline(lost.map { evalsha(reloaded, keys: calls[$0].keys, arguments: calls[$0].arguments) })
            for (index, reply) in zip(lost, again) { replies[index] = reply }
        }
        return replies
    }

    private static func isNoScript(_ reply: RedisReply) -> Bool {
        if case .error(let message) = reply { message.hasPrefix("NOSCRIPT") } else { false }
    }
}
