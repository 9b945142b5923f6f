import Foundation
import Logging
import RedisClient
import TestSupport
import Testing
import WaitingRoomCore
import WaitingRoomStore

@Suite("Join group commit", .serialized)
struct JoinCommitterTests {
    @Test("concurrent joins share commits: distinct consecutive places from far fewer script calls than joins")
    func batching() async throws {
        let server = try await TestRedisServer.start()
        let redis = RedisClient(configuration: server.configuration)
        let store = RoomStore(redis: redis)
        try await store.write(room: "batch", settings: RoomSettings(rate: 0, checkoutUrl: "/c"), mode: .createOrReplace)
        let committer = JoinCommitter(store: store, logger: Logger(label: "test"))
        let runner = Task { try await committer.run() }
        defer { runner.cancel() }
        func evalshaCalls() async throws -> Int {
            let stats = try await redis.info("commandstats")
            return stats["cmdstat_evalsha"]?.split(separator: ",").first?.split(separator: "=").last.flatMap { Int($0) } ?? 0
        }
        let before = try await evalshaCalls()
        let joins = 2_000
        let places = try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<joins {
                group.addTask {
                    guard case .placed(let seq, _, _) = try await committer.join(room: "batch") else { throw TestSupportError("not placed") }
                    return seq
                }
            }
            return try await group.reduce(into: [Int64]()) { $0.append($1) }
        }
        let calls = try await evalshaCalls() - before
        #expect(Set(places) == Set(1...Int64(joins)), "every join its own place, none skipped")
        #expect(calls <= joins / 10, "\(joins) joins took \(calls) commits: they were not batched")
    }

    @Test("MIN_REPLICAS: one WAIT per group commit; joins and claims answered once a replica holds them, and unavailable (503) when none does")
    func durableCommits() async throws {
        let primary = try await TestRedisServer.start()
        let replica = try await TestRedisServer.startReplica(of: primary)
        let redis = RedisClient(configuration: primary.configuration)
        try await waitUntil(timeout: .seconds(10)) { try await redis.info("replication")["slave0"]?.contains("state=online") == true }
        let store = RoomStore(redis: redis, replicaWait: ReplicaWait(replicas: 1, timeout: .milliseconds(1_000)))  // generous: a loaded machine
        try await store.write(room: "durable", settings: RoomSettings(rate: 1000, checkoutUrl: "/c"), mode: .createOrReplace)
        let committer = JoinCommitter(store: store, logger: Logger(label: "test"))
        let runner = Task { try await committer.run() }
        defer { runner.cancel() }
        func calls(_ command: String) async throws -> Int {
            let stats = try await redis.info("commandstats")
            return stats["cmdstat_\(command)"]?.split(separator: ",").first?.split(separator: "=").last.flatMap { Int($0) } ?? 0
        }
        let (waitsBefore, scriptsBefore) = (try await calls("wait"), try await calls("evalsha"))
        let joins = 500
        let places = try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<joins {
                group.addTask {
                    guard case .placed(let seq, _, _) = try await committer.join(room: "durable") else { throw TestSupportError("not placed") }
                    return seq
                }
            }
            return try await group.reduce(into: [Int64]()) { $0.append($1) }
        }
        #expect(Set(places) == Set(1...Int64(joins)))
        let waits = try await calls("wait") - waitsBefore
        let commits = try await calls("evalsha") - scriptsBefore
        #expect(waits == commits, "one WAIT per group commit (\(waits) WAITs, \(commits) commits)")
        #expect(waits <= joins / 10, "\(joins) joins took \(waits) WAITs: not shared by the batch")
        // The replica holds every place answered.
        let copy = RedisClient(configuration: replica.configuration)
        defer { copy.close() }
        #expect(try await copy.hgetall(RoomKeys(room: "durable").state)["tail"] == String(joins))

        _ = try await store.tick(rooms: ["durable"])
        let admitted = try await store.claim(room: "durable", ticketID: "t1", epoch: try await Self.epoch(redis), effectivePosition: 1)
        guard case .admitted = admitted else { throw TestSupportError("claim: \(admitted)") }

        try await replica.kill()
        try await waitUntil(timeout: .seconds(10)) { try await redis.info("replication")["connected_slaves"] == "0" }
        do {
            _ = try await committer.join(room: "durable")
            Issue.record("a join was answered with no replica up")
        } catch let error as StoreError {
            guard case .unavailable(.notReplicated(acknowledged: 0, required: 1)) = error else { throw error }
        }
        let epoch = try await Self.epoch(redis)
        do {
            _ = try await store.claim(room: "durable", ticketID: "t2", epoch: epoch, effectivePosition: 2)
            Issue.record("a claim was answered with no replica up")
        } catch {
            guard case .unavailable(.notReplicated(acknowledged: 0, required: 1)) = error else { throw error }
        }
    }

    static func epoch(_ redis: RedisClient) async throws -> String {
        try #require(try await redis.hgetall(RoomKeys(room: "durable").state)["epoch"])
    }

    @Test("one room's error in a group commit fails only that room: the others' places were written and are answered")
    func oneRoomFailing() async throws {
        let server = try await TestRedisServer.start()
        let redis = RedisClient(configuration: server.configuration)
        let store = RoomStore(redis: redis)
        try await store.write(room: "good", settings: RoomSettings(rate: 0, checkoutUrl: "/c"), mode: .createOrReplace)
        // A room whose hash is not a hash: its script answers an error (as a slot in migration answers TRYAGAIN).
        _ = try await redis.execute(["SET", RedisArgument(RoomKeys(room: "bad").state), "not a hash"])
        let results = try await store.join([("good", 2), ("bad", 1), ("good", 1)])
        guard case .success(.placed(1, _, _)) = results[0], case .failure = results[1], case .success(.placed(3, _, _)) = results[2] else {
            Issue.record("\(results)")
            return
        }
        let committer = JoinCommitter(store: store, logger: Logger(label: "test"))
        let runner = Task { try await committer.run() }
        defer { runner.cancel() }
        async let good = committer.join(room: "good")
        async let bad: Result<RoomStore.JoinResult, any Error> = { do { return .success(try await committer.join(room: "bad")) } catch { return .failure(error) } }()
        let epoch = try #require(try await redis.hgetall(RoomKeys(room: "good").state)["epoch"])
        #expect(try await good == .placed(firstSeq: 4, state: .open, epoch: epoch))
        if case .success = await bad { Issue.record("the broken room must fail") }
    }
    @Test("on a Cluster, a frozen node fails only its own room in a group commit: the other nodes' places were written and are answered", .timeLimit(.minutes(1)))
    func frozenClusterNode() async throws {
        let (cluster, redis, store, rooms) = try await clusterWithRoomOnEachNode()
        defer { redis.close() }

        try cluster.nodes[0].pause()
        defer { try? cluster.nodes[0].resume() }
        let started = ContinuousClock.now
        let results = try await store.join(rooms.map { ($0, 2) })
        let took = ContinuousClock.now - started
        let frozenFailed = if case .failure(.unavailable) = results[0] { true } else { false }
        let placed = results.dropFirst().filter { if case .success(.placed(1, _, _)) = $0 { true } else { false } }.count
        #expect(frozenFailed && placed == rooms.count - 1, "\(results)")
        #expect(took < .seconds(2), "the frozen node's share fails within its command timeout, not later: \(took)")
    }

    @Test("on a Cluster, a frozen node stops only its own rooms' refresh: the others refresh, its rooms stay cached and turn stale", .timeLimit(.minutes(1)))
    func frozenClusterNodeRefresh() async throws {
        let (cluster, redis, store, rooms) = try await clusterWithRoomOnEachNode()
        defer { redis.close() }
        let cache = RoomCache(staleAfter: .milliseconds(300))
        let refresher = RoomRefresher(store: store, cache: cache, logger: Logger(label: "test"))
        try await refresher.refresh(rooms)
        #expect(Set(cache.roomNames) == Set(rooms))

        try cluster.nodes[0].pause()
        defer { try? cluster.nodes[0].resume() }
        _ = try await store.join(rooms.dropFirst().map { ($0, 3) })
        let snapshots = try await refresher.refresh(rooms).snapshots
        #expect(Set(snapshots.keys) == Set(rooms.dropFirst()), "the healthy nodes' rooms refreshed")
        for room in rooms.dropFirst() { #expect(cache.entry(room)?.snapshot.tail == 3, "\(room) sees its new joins") }
        #expect(cache.entry(rooms[1])?.isStale == false)
        // Its last refresh was before the freeze, more than the 500 ms command timeout ago: stale (the 300 ms limit).
        #expect(cache.entry(rooms[0])?.isStale == true, "the frozen node's room is kept, not forgotten (no 404 for its shoppers), and marked stale")

        // Every node out of reach: the refresh as a whole fails (the cache answers, marked stale).
        try cluster.nodes[1].pause()
        try cluster.nodes[2].pause()
        defer {
            try? cluster.nodes[1].resume()
            try? cluster.nodes[2].resume()
        }
        await #expect(throws: StoreError.self) { try await refresher.refresh(rooms) }
        #expect(Set(cache.roomNames) == Set(rooms))
    }

    /// A three-primary cluster, a store on it with a 500 ms command timeout, and one room on each node:
    /// `rooms[i]` lives on `nodes[i]`. Scripts are loaded on every node while all answer, as a gate does.
    private func clusterWithRoomOnEachNode() async throws -> (TestRedisCluster, RedisClient, RoomStore, [String]) {
        let cluster = try await TestRedisCluster.start()
        var configuration = try RedisConfiguration(url: cluster.url)
        configuration.commandTimeout = .milliseconds(500)
        let redis = RedisClient(configuration: configuration)
        let store = RoomStore(redis: redis)
        var roomOn: [Int: String] = [:]
        while roomOn.count < cluster.nodes.count {
            let room = "node-\(UUID().uuidString.prefix(8).lowercased())"
            let owner = try await cluster.owner(of: try await cluster.slot(of: RoomKeys(room: room).state))
            if roomOn[owner] == nil { roomOn[owner] = room }
        }
        let rooms = cluster.nodes.indices.map { roomOn[$0]! }
        for room in rooms { try await store.write(room: room, settings: RoomSettings(rate: 0, checkoutUrl: "/c"), mode: .createOrReplace) }
        try await store.loadScripts()
        return (cluster, redis, store, rooms)
    }
}
