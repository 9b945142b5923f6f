import Foundation
import RedisClient

/// A primary, its replicas and the sentinels watching it, all on loopback ports, ready when `start` returns:
/// every replica in sync and every sentinel aware of every replica and of the other sentinels (so a
/// failover can be authorised as soon as the primary dies).
///
/// ```swift
/// let group = try await TestSentinelGroup.start()
/// let gate = … redisURL: group.url …      // redis-sentinel://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3/wr
/// try await group.primary.kill()
/// let promoted = try await group.waitForNewPrimary()
/// let secure = try await TestSentinelGroup.start(tls: try TestCertificates.shared())   // rediss-sentinel://
/// ```
public final class TestSentinelGroup: Sendable {
    public let masterName: String
    public let primary: TestRedisServer
    public let replicas: [TestRedisServer]
    public let sentinels: [TestRedisServer]

    /// The certificates every server and sentinel serves TLS with (TLS only); `nil` for plain TCP.
    public var tls: TestCertificates? { primary.tls }

    /// `redis-sentinel://…/wr`, or `rediss-sentinel://` with ``tls`` (pair it with its CA).
    public var url: String {
        (tls == nil ? "redis-sentinel://" : "rediss-sentinel://") + sentinels.map { "127.0.0.1:\($0.port)" }.joined(separator: ",") + "/" + masterName
    }

    private init(masterName: String, primary: TestRedisServer, replicas: [TestRedisServer], sentinels: [TestRedisServer]) {
        self.masterName = masterName
        self.primary = primary
        self.replicas = replicas
        self.sentinels = sentinels
    }

    /// - Parameter tls: serve TLS only everywhere (data nodes, replication, sentinels) with these certificates.
    public static func start(
        replicas replicaCount: Int = 2, sentinels sentinelCount: Int = 3, masterName: String = "wr", downAfterMs: Int = 1_000, tls: TestCertificates? = nil
    ) async throws -> TestSentinelGroup {
        let primary = try await TestRedisServer.start(tls: tls)
        var replicas: [TestRedisServer] = []
        for _ in 0..<replicaCount { replicas.append(try await TestRedisServer.startReplica(of: primary)) }
        let primaryClient = RedisClient(configuration: primary.configuration)
        defer { primaryClient.close() }
        try await waitUntil(timeout: .seconds(15), every: .milliseconds(100)) {
            let info = try await primaryClient.info("replication")
            let online = info.filter { $0.key.hasPrefix("slave") && $0.value.contains("state=online") }.count
            return online == replicaCount
        }
        var sentinels: [TestRedisServer] = []
        for _ in 0..<sentinelCount {
            sentinels.append(try await TestRedisServer.startSentinel(monitoring: primary, masterName: masterName, quorum: sentinelCount / 2 + 1, downAfterMs: downAfterMs))
        }
        // Sentinels find replicas (INFO) and each other (hello messages, every 2 s) on their own.
        for sentinel in sentinels {
            let client = RedisClient(configuration: sentinel.configuration)
            defer { client.close() }
            try await waitUntil(timeout: .seconds(20), every: .milliseconds(200)) {
                let known = try await client.execute(["SENTINEL", "replicas", RedisArgument(masterName)]).array?.count ?? 0
                let peers = try await client.execute(["SENTINEL", "sentinels", RedisArgument(masterName)]).array?.count ?? 0
                return known == replicaCount && peers == sentinelCount - 1
            }
        }
        return TestSentinelGroup(masterName: masterName, primary: primary, replicas: replicas, sentinels: sentinels)
    }

    /// The port the sentinels name as the primary now.
    public func primaryPort() async throws -> Int {
        let client = RedisClient(configuration: sentinels[0].configuration)
        defer { client.close() }
        let reply = try await client.execute(["SENTINEL", "get-master-addr-by-name", RedisArgument(masterName)])
        guard let port = reply.array?.last?.int else { throw TestSupportError("sentinel answered \(reply)") }
        return Int(port)
    }

    /// Waits until the sentinels name a primary other than the original one, and returns it.
    public func waitForNewPrimary(timeout: Duration = .seconds(30)) async throws -> TestRedisServer {
        var promoted: TestRedisServer?
        try await waitUntil(timeout: timeout, every: .milliseconds(100)) {
            let port = try await primaryPort()
            promoted = replicas.first { $0.port == port }
            return promoted != nil
        }
        return promoted!
    }
}
