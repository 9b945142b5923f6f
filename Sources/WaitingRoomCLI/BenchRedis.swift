import ArgumentParser
import Foundation
import RedisClient

/// INCR/s one at a time against INCR/s from many concurrent callers on the same single connection: the
/// ratio is what automatic pipelining buys. Run it against `redis://` and `rediss://` to see what TLS costs.
struct BenchRedis: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "redis", abstract: "Measure the pipelining Redis client (plain or TLS).")

    @Option(help: "Redis URL (redis:// or rediss://).")
    var redisURL = ProcessInfo.processInfo.environment["WAITROOM_REDIS_URL"] ?? "redis://127.0.0.1:6379"

    @Option(help: "PEM CA bundle for rediss:// (default: WAITROOM_REDIS_TLS_CA_FILE, else the system store).")
    var tlsCAFile: String?

    @Option(help: "Name the server certificate must carry (default: WAITROOM_REDIS_TLS_SERVER_NAME, else the URL's host).")
    var tlsServerName: String?

    @Option(help: "Seconds per measurement.")
    var seconds = 3.0

    @Option(help: "Concurrent callers for the pipelined measurement.")
    var concurrency = 64

    func run() async throws {
        var configuration = try RedisConfiguration(url: redisURL)
        if configuration.tls != nil {
            let environment = ProcessInfo.processInfo.environment
            configuration.tls = RedisConfiguration.TLS(
                caFile: tlsCAFile ?? environment["WAITROOM_REDIS_TLS_CA_FILE"],
                serverName: tlsServerName ?? environment["WAITROOM_REDIS_TLS_SERVER_NAME"]
            )
        }
        let redis = RedisClient(configuration: configuration)
        _ = try await redis.ping()
        let key = "bench:incr:\(UUID().uuidString.prefix(8))"
        defer { Task { [redis] in _ = try? await redis.del([key]) } }

        let start = redis.statistics
        let sequential = try await measure(redis: redis, key: key, callers: 1)
        let middle = redis.statistics
        let pipelined = try await measure(redis: redis, key: key, callers: concurrency)
        let end = redis.statistics
        func perWrite(_ from: RedisStatistics, _ to: RedisStatistics) -> Double {
            Double(to.commands - from.commands) / Double(max(1, to.writes - from.writes))
        }
        print("redis client, one connection, \(seconds) s each, \(configuration.tls == nil ? "plain TCP" : "TLS"), \(redisURL)")
        print(String(format: "  INCR one at a time:         %10.0f /s  (%.1f commands per write)", sequential, perWrite(start, middle)))
        print(String(format: "  INCR from %3d callers:      %10.0f /s  (%.1f commands per write)", concurrency, pipelined, perWrite(middle, end)))
        print(String(format: "  ratio pipelined/sequential: %10.1f x", pipelined / sequential))
    }

    private func measure(redis: RedisClient, key: String, callers: Int) async throws -> Double {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        let started = ContinuousClock.now
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<callers {
                group.addTask {
                    var count = 0
                    while ContinuousClock.now < deadline {
                        for _ in 0..<50 { _ = try await redis.incrby(key, 1) }
                        count += 50
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = (ContinuousClock.now - started).seconds
        return Double(total) / elapsed
    }
}
