import Foundation
import RedisClient
import Synchronization
import TestSupport
import Testing
import WaitingRoomCore
import WaitingRoomServer
import WaitingRoomStore
import WaitingRoomTokens

/// The shopper loop through HTTP against a real Redis.
@Suite("Gate: join, poll, admit, claim", .serialized, .stopsGates)
struct GateQueueTests {
    struct Event: Sendable {
        var seq: Int64
        var startedAt: ContinuousClock.Instant
        var finishedAt: ContinuousClock.Instant
        var admitted: Bool
        /// Told to wait in line (not "entering": an offered shopper whose entry the gate spaced out).
        var waiting: Bool
        var jti: String?
    }

    @Test("FIFO across two instances: strictly in ticket order, none twice, none skipped, rate × time")
    func fifoAcrossInstances() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("fifo")
        let rate = 250.0
        let shoppers = 2_000
        let a = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: rate)])
        let b = try await RunningGate.start(redisURL: server.url)
        let store = a.gate.store
        #expect(try await store.change(room: room, .pause) == .changed(.paused))
        try await waitUntil(timeout: .seconds(3)) { b.gate.cache.entry(room)?.snapshot.state == .paused }

        // 2,000 shoppers join 64 at a time, alternating instances.
        let tickets = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            var tickets = [String](repeating: "", count: shoppers)
            var next = 0
            func add(_ index: Int) {
                group.addTask {
                    let gate = index % 2 == 0 ? a : b
                    let reply = try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join")
                    guard reply.status == 200, let ticket = reply.string("ticket") else { throw TestSupportError("join \(reply.status) \(reply.body)") }
                    return (index, ticket)
                }
            }
            while next < 64 { add(next); next += 1 }
            for try await (index, ticket) in group {
                tickets[index] = ticket
                if next < shoppers { add(next); next += 1 }
            }
            return tickets
        }
        let seqs = tickets.map { QueueTicket(payload: $0[..<$0.lastIndex(of: ".")!])!.seq }
        #expect(Set(seqs) == Set(1...Int64(shoppers)), "every join got its own place, none skipped")

        // Open the doors and measure head against rate × time on Redis's own clock.
        #expect(try await store.change(room: room, .resume) == .changed(.open))
        let keys = RoomKeys(room: room)
        let openedAt = try #require(try await store.redis.hgetall(keys.state)["lastTickMs"].flatMap { Int64($0) })

        let events = Locked<[Event]>([])
        let sampler = Task {
            var worst = 0.0
            var previousTick = openedAt
            var stalledMs: Int64 = 0
            while !Task.isCancelled {
                // head against rate × time at the moment of the last tick (Redis's clock, whoever ticked):
                // scheduling delays on a loaded machine move when ticks happen, not what they admit. A tick
                // after more than a second of none admits one second's worth (no burst after a stall), so
                // time past that second in a gap between ticks is not owed (at worst this forgives a gap the
                // sampler itself slept through, which only happens on a machine stalled for a second).
                let fields = try await store.redis.execute(["HMGET", .init(keys.state), "head", "lastTickMs"]).array ?? []
                guard fields.count == 2, let headValue = fields[0].int, let tickMs = fields[1].int else { continue }
                if tickMs - previousTick > 1000 { stalledMs += tickMs - previousTick - 1000 }
                previousTick = max(previousTick, tickMs)
                let head = Double(headValue)
                if head < Double(shoppers) {
                    worst = max(worst, abs(rate * Double(tickMs - openedAt - stalledMs) / 1000 - head))
                }
                if head >= Double(shoppers) { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            return worst
        }

        await withTaskGroup(of: Void.self) { group in
            for (index, ticket) in tickets.enumerated() {
                group.addTask {
                    let gate = index % 2 == 0 ? b : a  // poll the other instance than the one joined
                    let deadline = ContinuousClock.now + .seconds(60)
                    while ContinuousClock.now < deadline {
                        let started = ContinuousClock.now
                        guard let reply = try? await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: ticket) else { continue }
                        let state = reply.string("state")
                        let token = reply.string("token")
                        let jti = token.flatMap { try? JSONWebToken.parse($0) }.flatMap { try? JSONDecoder().decode(AdmissionClaims.self, from: Data($0.payload)) }?.jti
                        events.withLock { $0.append(Event(seq: seqs[index], startedAt: started, finishedAt: .now, admitted: state == "admitted", waiting: state == "waiting", jti: jti)) }
                        if state == "admitted" { return }
                        let wait = min(reply.int("pollAfterMs") ?? 1000, 1000)
                        try? await Task.sleep(for: .milliseconds(wait))
                    }
                }
            }
        }
        let worstDeviation = try await sampler.value
        let all = events.withLock { $0 }
        let admissions = all.filter(\.admitted)
        #expect(admissions.count == shoppers, "everyone admitted exactly once")
        #expect(Set(admissions.compactMap(\.jti)).count == shoppers, "one admission (jti) per shopper")
        #expect(worstDeviation <= rate * 0.1, "admitted count within one tick of rate × time (worst \(worstDeviation))")

        // FIFO: once shopper b was admitted, a poll by any earlier shopper that started after that (plus the
        // other instance's cache refresh) must find them admitted too.
        let firstAdmission = Dictionary(admissions.map { ($0.seq, $0.finishedAt) }, uniquingKeysWith: min)
        let violations = fifoViolations(polls: all.map { ($0.seq, $0.startedAt, $0.waiting) }, firstAdmission: firstAdmission)
        #expect(violations == 0, "\(violations) shoppers were told to wait after someone behind them was admitted")
        #expect(try await store.redis.hgetall(keys.state)["claims"] == String(shoppers))
    }

    @Test("capacity: never more than C admitted; a release lets the next one in")
    func capacity() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("cap")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 100, capacity: 3)])
        var tickets: [String] = []
        for _ in 0..<6 {
            tickets.append(try #require(try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join").string("ticket")))
        }
        var tokens: [Int: String] = [:]
        // Poll everyone for a while: exactly 3 get in, the rest keep waiting.
        let until = ContinuousClock.now + .milliseconds(1_500)
        while ContinuousClock.now < until {
            for (index, ticket) in tickets.enumerated() where tokens[index] == nil {
                let reply = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: ticket)
                if let token = reply.string("token") { tokens[index] = token }
            }
            let snapshot = try #require(gate.gate.cache.entry(room)?.snapshot)
            #expect(snapshot.active + snapshot.offers <= 3)
            #expect(tokens.count <= 3)
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(tokens.keys.sorted() == [0, 1, 2])
        let released = try await HTTP.shared.call(.POST, gate.base + "/v1/admissions/release", bearer: RunningGate.serviceKey, body: #"{"token":"\#(tokens[0]!)"}"#)
        #expect(released.status == 204)
        try await waitUntil(timeout: .seconds(3)) {
            try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: tickets[3]).string("state") == "admitted"
        }
        #expect(try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: tickets[4]).string("state") == "waiting")
    }

    @Test("claim window: an offer not claimed in time lapses, says expired, and its capacity returns")
    func claimWindow() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("lapse")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 100, capacity: 1, claimWindow: 1)])
        let first = try #require(try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join").string("ticket"))
        let second = try #require(try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join").string("ticket"))
        // The first shopper is offered the only slot but never comes back; the second waits behind them.
        try await waitUntil(timeout: .seconds(3)) { gate.gate.cache.entry(room)?.snapshot.head == 1 }
        #expect(try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: second).string("state") == "waiting")
        try await waitUntil(timeout: .seconds(5)) {
            try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: second).string("state") == "admitted"
        }
        #expect(try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: first).string("state") == "expired")
        #expect(gate.gate.cache.entry(room)?.snapshot.lapsed == 1)
    }

    @Test("polls cost no Redis command beyond the cache refresh")
    func zeroCostPolls() async throws {
        let server = try await TestRedisServer.start()
        let room = uniqueRoom("zero")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 1)])
        let redis = gate.gate.store.redis
        let ticket = try #require(try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join").string("ticket"))
        _ = try #require(try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join").string("ticket"))
        _ = try await gate.gate.store.change(room: room, .pause)  // nobody is admitted while we count
        try await waitUntil(timeout: .seconds(3)) { gate.gate.cache.entry(room)?.snapshot.state == .paused }
        let waiting = try #require(try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join").string("ticket"))
        _ = ticket

        func commandCounts() async throws -> [String: Int] {
            var counts: [String: Int] = [:]
            for (key, value) in try await redis.info("commandstats") where key.hasPrefix("cmdstat_") {
                if let calls = value.split(separator: ",").first?.split(separator: "=").last.flatMap({ Int($0) }) {
                    counts[String(key.dropFirst("cmdstat_".count))] = calls
                }
            }
            return counts
        }
        let before = try await commandCounts()
        let refreshCounterBefore = refreshCount(gate)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<16 {
                group.addTask {
                    for _ in 0..<(10_000 / 16 + (worker < 10_000 % 16 ? 1 : 0)) {
                        let reply = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: waiting)
                        guard reply.status == 200, reply.string("state") == "paused" else { throw TestSupportError("poll \(reply.status) \(reply.body)") }
                    }
                }
            }
            try await group.waitForAll()
        }
        let refreshes = refreshCount(gate) - refreshCounterBefore
        let after = try await commandCounts()
        var delta: [String: Int] = [:]
        for (command, calls) in after { delta[command] = calls - (before[command] ?? 0) }
        delta["info"] = nil  // our own measurement
        // The refresher sends one EVALSHA (tick) per room per refresh and an SMEMBERS about once a second.
        let evalsha = delta.removeValue(forKey: "evalsha") ?? 0
        let smembers = delta.removeValue(forKey: "smembers") ?? 0
        #expect(evalsha <= refreshes + 2, "evalsha \(evalsha) for \(refreshes) refreshes")
        #expect(smembers <= refreshes / 5 + 2)
        // Commands run inside the tick script are counted too (TIME, HGETALL, ZCARD, ...: one or two per tick).
        // A poll that cost even one command would show up 10,000 times here.
        #expect(refreshes < 600, "the poll phase took \(refreshes) refreshes")
        // (+4: the analytics series are trimmed once a minute, two commands, and the phase may cross two minutes.)
        #expect(delta.values.allSatisfy { $0 <= 2 * max(evalsha, 1) + 4 }, "commands beyond the refresh: \(delta.filter { $0.value > 2 * evalsha + 4 })")
    }

    private func refreshCount(_ gate: RunningGate) -> Int {
        let text = gate.gate.metricsText()
        let line = text.split(separator: "\n").first { $0.hasPrefix("waitroom_cache_refreshes_total ") }
        return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
    }
}

/// A lock-protected value that escaping closures can share.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<T>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
}
