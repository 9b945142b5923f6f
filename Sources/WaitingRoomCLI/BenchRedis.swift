import ArgumentParser
import Foundation
import RedisClient

/// INCR/s one at a time against INCR/s from many concurrent callers on the same single connection: the
/// ratio is what automatic pipelining buys.
struct BenchRedis: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "redis", abstract: "Measure the pipelining Redis client.")

    @Option(help: "Redis URL.")
    var redisURL = ProcessInfo.processInfo.environment["WAITROOM_REDIS_URL"] ?? "redis://127.0.0.1:6379"

    @Option(help: "Seconds per measurement.")
    var seconds = 3.0

    @Option(help: "Concurrent callers for the pipelined measurement.")
    var concurrency = 64

    func run() async throws {
        let redis = RedisClient(configuration: try RedisConfiguration(url: redisURL))
        _ = try await redis.ping()
        let key = "bench:incr:\(UUID().uuidString.prefix(8))"
        defer { Task { [redis] in _ = try? await redis.del([key]) } }

        let sequential = try await measure(redis: redis, key: key, callers: 1)
        let pipelined = try await measure(redis: redis, key: key, callers: concurrency)
        print("redis client, one connection, \(seconds) s each, \(redisURL)")
        print(String(format: "  INCR one at a time:         %10.0f /s", sequential))
        print(String(format: "  INCR from %3d callers:      %10.0f /s", concurrency, pipelined))
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
