import Foundation
import RedisClient
import Synchronization
import TestSupport
import Testing

/// Stalls, restarts, lost scripts and shared round trips, against real redis-servers the tests start.
@Suite("Redis client: deadlines, lanes, retryable errors, pipelining", .serialized)
struct RedisResilienceTests {
    @Test("a stalled Redis (SIGSTOP) fails each command within its own timeout; commands never written stay unwritten; SIGCONT recovers")
    func stall() async throws {
        let server = try await TestRedisServer.start()
        let timeout = Duration.milliseconds(500)
        var configuration = server.configuration
        configuration.commandTimeout = timeout
        let redis = RedisClient(configuration: configuration)
        #expect(try await redis.ping() == "PONG")
        try server.pause()
        var resumed = false
        defer { if !resumed { try? server.resume() } }

        // Five waves of 10 commands, one after another through the stall: every command fails within its own
        // timeout, never after waiting out an earlier one's.
        var worst = Duration.zero
        for _ in 0..<5 {
            let outcomes = await withTaskGroup(of: (Duration, RedisError?).self) { group in
                for _ in 0..<10 {
                    group.addTask {
                        let started = ContinuousClock.now
                        do throws(RedisError) {
                            _ = try await redis.incrby("stalled", 1)
                            return (.now - started, nil)
                        } catch {
                            return (.now - started, error)
                        }
                    }
                }
                return await group.reduce(into: [(Duration, RedisError?)]()) { $0.append($1) }
            }
            #expect(outcomes.allSatisfy { $0.1?.isRetryable == true }, "\(outcomes.map { $0.1.map(String.init(describing:)) ?? "ok" })")
            worst = max(worst, outcomes.map(\.0).max() ?? .zero)
        }
        #expect(worst < timeout + .milliseconds(400), "slowest failure took \(worst)")

        try server.resume()
        resumed = true
        let resumedAt = ContinuousClock.now
        try await waitUntil(timeout: .seconds(5)) { (try? await redis.ping()) == "PONG" }
        let recovery = ContinuousClock.now - resumedAt
        #expect(recovery < .seconds(3), "recovered \(recovery) after SIGCONT")
        // Only the first wave was written (it was in flight when Redis stopped): the 40 commands that waited
        // for a new connection timed out unwritten and never ran.
        let ran = try await redis.get("stalled").map { Int(String(decoding: $0, as: UTF8.self)) ?? -1 } ?? 0
        #expect(ran <= 10, "\(ran) increments ran; at most the 10 in flight at the stall may")
    }

    @Test("a lane blocked on a slow command does not hold up the client's own connection")
    func lanesIsolate() async throws {
        let server = try await TestRedisServer.shared()
        let redis = RedisClient(configuration: server.configuration)
        let key = uniqueKeyPrefix()
        let refresh = redis.lane("refresh")
        #expect(redis.lane("refresh") === refresh)
        let blockedDone = Atomic<Bool>(false)
        let blocked = Task {
            defer { blockedDone.store(true, ordering: .relaxed) }
            return try await refresh.send(["BLPOP", .init(key + "list"), "1"])
        }
        try await waitUntil(timeout: .seconds(5)) { Int(try await redis.info("clients")["blocked_clients"] ?? "0") ?? 0 >= 1 }
        let started = ContinuousClock.now
        for _ in 0..<20 { _ = try await redis.incrby(key + "n", 1) }
        #expect(ContinuousClock.now - started < .milliseconds(500))
        let blockedFinished = blockedDone.load(ordering: .relaxed)
        #expect(!blockedFinished, "the main connection answered while the lane was still blocked")
        #expect(try await blocked.value == .null)
    }

    @Test("LOADING, BUSY, TRYAGAIN, MASTERDOWN, READONLY, CLUSTERDOWN are retryable; other error replies are not", arguments: [
        ("LOADING Redis is loading the dataset in memory", true), ("BUSY Redis is busy running a script", true),
        ("TRYAGAIN Multiple keys request during rehashing of slot", true), ("MASTERDOWN Link with MASTER is down", true),
        ("READONLY You can't write against a read only replica.", true), ("CLUSTERDOWN The cluster is down", true),
        ("ERR unknown command", false), ("NOSCRIPT No matching script", false), ("WRONGTYPE Operation against a key", false),
    ])
    func retryableCodes(message: String, retryable: Bool) {
        #expect(RedisError.server(message).isRetryable == retryable)
        #expect(!RedisError.server(message).isConnectivity)
    }

    @Test("a Redis reloading its data set answers LOADING on a live connection: a retryable server error")
    func loadingIsRetryable() async throws {
        let server = try await TestRedisServer.start(arguments: ["--loading-process-events-interval-bytes", "1024"])
        var configuration = server.configuration
        configuration.commandTimeout = .seconds(30)  // outlast the blocking save before the reload
        let redis = RedisClient(configuration: configuration)
        let admin = RedisClient(configuration: configuration)
        try await admin.execute(["DEBUG", "POPULATE", "300000"])
        #expect(try await redis.ping() == "PONG")
        let reload = Task { try await admin.execute(["DEBUG", "RELOAD"]) }
        var seen: RedisError?
        let deadline = ContinuousClock.now + .seconds(30)
        while seen == nil, ContinuousClock.now < deadline {
            if case .error(let message) = try await redis.send(["INCR", "during-reload"]) { seen = .server(message) }
        }
        _ = try await reload.value
        let error = try #require(seen)
        #expect(error.serverErrorCode == "LOADING")
        #expect(error.isRetryable)
    }

    @Test("NOSCRIPT part-way through a batch: only the calls that failed are sent again, each call runs once")
    func partialNoScript() async throws {
        let server = try await TestRedisServer.start()
        var patient = server.configuration
        patient.commandTimeout = .seconds(15)  // the longest batch below takes seconds on a busy machine
        let redis = RedisClient(configuration: patient)
        let flusher = RedisClient(configuration: server.configuration)
        let script = RedisScript("redis.call('INCR', KEYS[1]); return redis.call('RPUSH', KEYS[2], ARGV[1])")
        // Big calls, so Redis reads the batch in many chunks and serves the flusher in between.
        let padding = RedisArgument(String(repeating: "x", count: 300))
        for attempt in 0..<10 {
            // A longer batch each time the flush missed it: on a busy machine a short batch can finish before
            // the flusher is scheduled at all (CI once saw ten misses in a row at 3,000 calls).
            let calls = min(3_000 << attempt, 24_000)
            let counter = "noscript:\(attempt):count"
            let log = "noscript:\(attempt):log"
            try await redis.load(script)
            let batch = Task {
                try await redis.run(script, calls: (0..<calls).map { (keys: [RedisArgument(counter), RedisArgument(log)], arguments: [RedisArgument($0), padding]) })
            }
            try await waitUntil(timeout: .seconds(10), every: .milliseconds(1)) { (try await flusher.get(counter)) != nil }
            let flushed = try await flusher.pipeline([["SCRIPT", "FLUSH"], ["GET", RedisArgument(counter)]])
            let ranBeforeFlush = flushed[1].int ?? 0
            let replies = try await batch.value
            #expect(replies.allSatisfy { $0.int != nil }, "every call answered: \(replies.first { $0.int == nil }.map(String.init(describing:)) ?? "")")
            #expect(try await flusher.get(counter).map { String(decoding: $0, as: UTF8.self) } == "\(calls)", "each call ran exactly once")
            let entries = try await flusher.send(["LRANGE", RedisArgument(log), 0, -1]).array?.compactMap(\.int) ?? []
            #expect(entries.sorted() == (0..<Int64(calls)).map { $0 })
            if ranBeforeFlush < calls { return }  // the flush landed mid-batch: the partial case ran
        }
        Issue.record("SCRIPT FLUSH never landed in the middle of a batch")
    }

    @Test("pipelining: 200 concurrent commands sent while Redis sleeps reach it in a handful of reads, not 200 round trips")
    func pipeliningSharesRoundTrips() async throws {
        let server = try await TestRedisServer.start()
        let redis = RedisClient(configuration: server.configuration)
        let sleeper = RedisClient(configuration: server.configuration)
        #expect(try await redis.ping() == "PONG")
        #expect(try await sleeper.ping() == "PONG")
        let readsBefore = try #require(Int(try await redis.info("stats")["total_reads_processed"] ?? ""))
        let written = redis.statistics
        let sleeping = Task { try await sleeper.execute(["DEBUG", "SLEEP", "0.5"]) }
        try await waitUntil(timeout: .seconds(2), every: .milliseconds(5)) { !server.answersPing(timeout: .milliseconds(50)) }
        let values = try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<200 { group.addTask { try await redis.incrby("round-trips", 1) } }
            return try await group.reduce(into: [Int64]()) { $0.append($1) }
        }
        _ = try await sleeping.value
        #expect(Set(values) == Set(1...200))
        let readsAfter = try #require(Int(try await redis.info("stats")["total_reads_processed"] ?? ""))
        // One at a time would cost Redis at least 200 reads; the probes, DEBUG and INFO cost a few.
        #expect(readsAfter - readsBefore < 40, "Redis needed \(readsAfter - readsBefore) reads for 200 commands")
        let sent = redis.statistics
        #expect(sent.commands - written.commands == 201)  // the 200 INCRs and the INFO
        #expect(sent.writes - written.writes < 100, "200 commands left in \(sent.writes - written.writes) writes")
    }
}
