import Foundation
import RedisClient

/// A Redis Cluster of primaries on loopback ports, slots split evenly, ready (`cluster_state:ok` on every
/// node) when `start` returns. Can move a slot from one node to another while clients use it, the way
/// `redis-cli --cluster reshard` does: IMPORTING / MIGRATING, `MIGRATE` the keys, then `SETSLOT … NODE`.
/// Optionally with one replica per primary, and TLS only (clients, cluster bus, replication).
///
/// ```swift
/// let cluster = try await TestRedisCluster.start()
/// let secure = try await TestRedisCluster.start(withReplicas: true, tls: try TestCertificates.shared())  // rediss-cluster://
/// ```
public final class TestRedisCluster: Sendable {
    /// The primaries, in slot order.
    public let nodes: [TestRedisServer]
    public let ids: [String]
    /// `replicas[i]` replicates `nodes[i]`; empty for a cluster without replicas.
    public let replicas: [TestRedisServer]

    /// `redis-cluster://127.0.0.1:p1,127.0.0.1:p2,…`, or `rediss-cluster://` for a TLS cluster (pair it with its CA).
    public var url: String {
        (nodes[0].tls == nil ? "redis-cluster://" : "rediss-cluster://") + nodes.map { "127.0.0.1:\($0.port)" }.joined(separator: ",")
    }

    private init(nodes: [TestRedisServer], ids: [String], replicas: [TestRedisServer]) {
        self.nodes = nodes
        self.ids = ids
        self.replicas = replicas
    }

    /// - Parameters:
    ///   - withReplicas: one replica per primary (`CLUSTER REPLICATE`), in sync when this returns.
    ///   - tls: serve TLS only with these certificates, the cluster bus (`tls-cluster yes`) and replication
    ///     (`tls-replication yes`) too; `CLUSTER SLOTS` then names the TLS ports.
    public static func start(primaries: Int = 3, withReplicas: Bool = false, tls: TestCertificates? = nil) async throws -> TestRedisCluster {
        func startNode() async throws -> (node: TestRedisServer, busPort: Int) {
            // The bus port defaults to port + 10000, past 65535 for a high free port: choose it too.
            let busPort = try freePort()
            var arguments = [
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "3000", "--cluster-port", "\(busPort)",
            ]
            if let tls {
                // The bus checks the connecting node's certificate: it must be one for client use.
                arguments += [
                    "--tls-cluster", "yes", "--tls-replication", "yes", "--tls-client-cert-file", tls.clientCertificateFile,
                    "--tls-client-key-file", tls.clientKeyFile,
                ]
            }
            return (try await TestRedisServer.start(arguments: arguments, tls: tls), busPort)
        }
        var nodes: [TestRedisServer] = []
        var busPorts: [Int] = []
        for _ in 0..<primaries {
            let started = try await startNode()
            nodes.append(started.node)
            busPorts.append(started.busPort)
        }
        var ids: [String] = []
        for (index, node) in nodes.enumerated() {
            let client = RedisClient(configuration: node.configuration)
            defer { client.close() }
            let first = index * 16384 / primaries
            let last = (index + 1) * 16384 / primaries - 1
            try await client.execute(["CLUSTER", "ADDSLOTSRANGE", RedisArgument(first), RedisArgument(last)])
            ids.append(try await client.execute(["CLUSTER", "MYID"]).string ?? "")
            if index > 0 { try await client.execute(["CLUSTER", "MEET", "127.0.0.1", RedisArgument(nodes[0].port), RedisArgument(busPorts[0])]) }
        }
        var replicas: [TestRedisServer] = []
        if withReplicas {
            for id in ids {
                let replica = try await startNode().node
                let client = RedisClient(configuration: replica.configuration)
                defer { client.close() }
                try await client.execute(["CLUSTER", "MEET", "127.0.0.1", RedisArgument(nodes[0].port), RedisArgument(busPorts[0])])
                // REPLICATE names a node this one must know already: wait for the gossip to bring it.
                try await waitUntil(timeout: .seconds(20), every: .milliseconds(100)) {
                    (try await client.execute(["CLUSTER", "NODES"]).string ?? "").contains(id)
                }
                try await client.execute(["CLUSTER", "REPLICATE", RedisArgument(id)])
                replicas.append(replica)
            }
        }
        let known = nodes.count + replicas.count
        for node in nodes + replicas {
            let client = RedisClient(configuration: node.configuration)
            defer { client.close() }
            try await waitUntil(timeout: .seconds(20), every: .milliseconds(100)) {
                let info = try await client.execute(["CLUSTER", "INFO"]).string ?? ""
                return info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:\(known)")
            }
        }
        for node in nodes where withReplicas {
            let client = RedisClient(configuration: node.configuration)
            defer { client.close() }
            try await waitUntil(timeout: .seconds(20), every: .milliseconds(100)) {
                try await client.info("replication")["slave0"]?.contains("state=online") ?? false
            }
        }
        return TestRedisCluster(nodes: nodes, ids: ids, replicas: replicas)
    }

    /// The slot of `key` (Redis's own answer).
    public func slot(of key: String) async throws -> Int {
        let client = RedisClient(configuration: nodes[0].configuration)
        defer { client.close() }
        return Int(try await client.execute(["CLUSTER", "KEYSLOT", RedisArgument(key)]).int ?? -1)
    }

    /// The index of the node serving `slot` now.
    public func owner(of slot: Int) async throws -> Int {
        let client = RedisClient(configuration: nodes[0].configuration)
        defer { client.close() }
        for range in try await client.execute(["CLUSTER", "SLOTS"]).array ?? [] {
            guard let parts = range.array, let start = parts[0].int, let end = parts[1].int, let port = parts[2].array?[1].int else { continue }
            if (start...end).contains(Int64(slot)) { return nodes.firstIndex { $0.port == Int(port) } ?? -1 }
        }
        throw TestSupportError("slot \(slot) not served")
    }

    /// Moves `slot` to node `target` with its keys, a few at a time (clients see ASK, then MOVED).
    public func migrate(slot: Int, to target: Int, batch: Int = 2) async throws {
        let source = try await owner(of: slot)
        guard source != target else { return }
        let from = RedisClient(configuration: nodes[source].configuration)
        let to = RedisClient(configuration: nodes[target].configuration)
        defer {
            from.close()
            to.close()
        }
        try await to.execute(["CLUSTER", "SETSLOT", RedisArgument(slot), "IMPORTING", RedisArgument(ids[source])])
        try await from.execute(["CLUSTER", "SETSLOT", RedisArgument(slot), "MIGRATING", RedisArgument(ids[target])])
        while true {
            let keys = try await from.execute(["CLUSTER", "GETKEYSINSLOT", RedisArgument(slot), RedisArgument(batch)]).array?.compactMap(\.string) ?? []
            if keys.isEmpty { break }
            try await from.execute(
                ["MIGRATE", "127.0.0.1", RedisArgument(nodes[target].port), "", "0", "5000", "KEYS"] + keys.map { RedisArgument($0) }
            )
        }
        // The importing node first, then the source, then the rest (as redis-cli does).
        for index in [target, source] + nodes.indices.filter({ $0 != target && $0 != source }) {
            let client = RedisClient(configuration: nodes[index].configuration)
            defer { client.close() }
            try await client.execute(["CLUSTER", "SETSLOT", RedisArgument(slot), "NODE", RedisArgument(ids[target])])
        }
    }
}
