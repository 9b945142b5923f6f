import Foundation
import RedisClient
import Synchronization
import TestSupport
import Testing

/// The client against Sentinel and Cluster deployments the tests start.
@Suite("Redis Sentinel and Cluster", .serialized)
struct RedisTopologyTests {
    @Test("Sentinel: finds the primary, never writes to a replica, follows a SIGKILL failover to the promoted replica", .timeLimit(.minutes(1)))
    func sentinelFailover() async throws {
        let group = try await TestSentinelGroup.start()
        var configuration = try RedisConfiguration(url: group.url)
        configuration.commandTimeout = .milliseconds(500)
        let redis = RedisClient(configuration: configuration)
        defer { redis.close() }
        #expect(try await redis.incrby("n", 1) == 1)
        #expect(try await redis.info("replication")["role"] == "master")
        #expect(try await redis.info("server")["tcp_port"] == String(group.primary.port))

        try await group.primary.kill()
        let killed = ContinuousClock.now
        let promoted = try await group.waitForNewPrimary()
        var value: Int64 = 0
        try await waitUntil(timeout: .seconds(20), every: .milliseconds(50)) {
            guard let next = try? await redis.incrby("n", 1) else { return false }
            value = next
            return true
        }
        print("SENTINEL client: first write \(ContinuousClock.now - killed) after the kill")
        #expect(value == 2, "the write before the kill reached the promoted replica")
        #expect(try await redis.info("server")["tcp_port"] == String(promoted.port))
        #expect(try await redis.info("replication")["role"] == "master")
    }

    @Test("Sentinel: when no sentinel names a primary, commands fail at once as retryable (503), nothing hangs")
    func noSentinelAnswers() async throws {
        let notASentinel = try await TestRedisServer.start()  // answers, but knows no SENTINEL command
        var configuration = try RedisConfiguration(url: "redis-sentinel://127.0.0.1:\(notASentinel.port),127.0.0.1:\(try freePort())/wr")
        configuration.commandTimeout = .milliseconds(500)
        let redis = RedisClient(configuration: configuration)
        defer { redis.close() }
        let started = ContinuousClock.now
        do {
            _ = try await redis.incrby("n", 1)
            Issue.record("a write succeeded without a primary")
        } catch {
            #expect(error.isRetryable, "\(error)")
        }
        #expect(ContinuousClock.now - started < .seconds(2))
    }

    @Test("Cluster: routes by hash tag, one write per node, scripts on every node, a slot migrated under load loses no increment", .timeLimit(.minutes(1)))
    func clusterRouting() async throws {
        let cluster = try await TestRedisCluster.start()
        let redis = RedisClient(configuration: try RedisConfiguration(url: cluster.url))
        defer { redis.close() }
        let tags = (0..<30).map { "t\($0)" }
        let replies = try await redis.pipeline(tags.map { ["INCRBY", RedisArgument("{\($0)}:n"), 1] })
        #expect(replies == Array(repeating: .integer(1), count: tags.count))
        var owners = Set<Int>()
        for tag in tags { owners.insert(try await cluster.owner(of: try await cluster.slot(of: "{\(tag)}:n"))) }
        #expect(owners.count == 3, "30 tags spread over every node")

        let bump = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        #expect(try await redis.run(bump, keys: ["{t0}:n"], arguments: ["1"]).int == 2)
        // Keys beside the counter in its slot, so the migration takes several MIGRATE steps.
        for index in 0..<20 { try await redis.set("{t0}:k\(index)", "v") }
        let slot = try await cluster.slot(of: "{t0}:n")
        let source = try await cluster.owner(of: slot)
        let stop = StopFlag()
        let counted = Task {
            var done: Int64 = 0
            while !stop.isSet {
                _ = try await redis.run(bump, keys: ["{t0}:n"], arguments: ["1"])
                done += 1
            }
            return done
        }
        try await Task.sleep(for: .milliseconds(100))
        try await cluster.migrate(slot: slot, to: (source + 1) % 3, batch: 3)
        try await Task.sleep(for: .milliseconds(100))
        stop.set()
        let done = try await counted.value
        #expect(try await cluster.owner(of: slot) == (source + 1) % 3)
        #expect(try await redis.get("{t0}:n").map { String(decoding: $0, as: UTF8.self) } == String(done + 2))
        #expect(try await redis.get("{t0}:k19") != nil)
        // Every node has every script (a node would answer NOSCRIPT and the client reload it otherwise).
        for tag in tags { #expect(try await redis.run(bump, keys: [RedisArgument("{\(tag)}:n")], arguments: ["0"]).int ?? 0 >= 1) }
    }

    /// Issue 19: the release build crashed here at start-up (`SCRIPT LOAD` on every primary) — every node's
    /// answer landed in slot 0 (a miscompile of the child tasks' return, see `ClusterRouter.sendEach`) and
    /// slots 1 and 2 stayed empty. CI runs this suite on the release build.
    @Test("Cluster: every primary answers in its own slot, first contact and after; a pipeline over all nodes keeps each reply in place", .timeLimit(.minutes(1)))
    func everyPrimaryAnswersInItsOwnSlot() async throws {
        let cluster = try await TestRedisCluster.start()
        let ports = Set(cluster.nodes.map(\.port))
        for round in 0..<3 {
            // A new client each round: the first contact (slot map, new connections) is where it broke.
            let redis = RedisClient(configuration: try RedisConfiguration(url: cluster.url))
            defer { redis.close() }
            let answers = try await redis.everyPrimary(["CONFIG", "GET", "port"])
            let answered = Set(answers.compactMap { $0.array?.last?.string.flatMap { Int($0) } })
            #expect(answers.count == 3 && answered == ports, "round \(round): \(answers)")
            let tags = (0..<60).map { "r\(round)-\($0)" }
            let echoed = try await redis.pipeline(tags.map { ["SET", RedisArgument("{\($0)}:v"), RedisArgument($0), "GET"] })
            #expect(echoed == Array(repeating: .null, count: tags.count))
            let read = try await redis.pipeline(tags.map { ["GET", RedisArgument("{\($0)}:v")] })
            #expect(read.map(\.string) == tags, "round \(round): each reply in its command's place")
        }
    }
}

/// A flag escaping closures can share.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}
