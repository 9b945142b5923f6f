import Foundation
import RedisClient
import TestSupport
import Testing
import WaitingRoomCore
import WaitingRoomServer
import WaitingRoomStore

@Suite("Scheduled drops: pre-queue lottery and ramp", .serialized, .stopsGates)
struct ScheduledDropTests {
    @Test("pre-queued shoppers get a lottery place at opening, keep it across polls and instances; later arrivals queue FIFO")
    func lottery() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("lottery")
        var drop = settings(rate: 0)
        drop.opensAt = Date().addingTimeInterval(3_600)  // ops open it by hand below, once everyone has joined
        let a = try await RunningGate.start(redisURL: server.url, rooms: [room: drop])
        let b = try await RunningGate.start(redisURL: server.url)
        try await waitUntil(timeout: .seconds(3)) { b.gate.cache.entry(room) != nil }

        let early = 300
        var tickets: [String] = []
        for index in 0..<early {
            let reply = try await HTTP.shared.call(.POST, (index % 2 == 0 ? a : b).base + "/v1/rooms/\(room)/join")
            #expect(reply.string("state") == "scheduled")
            #expect((reply.int("opensInSeconds") ?? -1) >= 0)
            tickets.append(try #require(reply.string("ticket")))
        }
        // Before opening nobody is admitted, whatever they do.
        for ticket in tickets.prefix(20) {
            let reply = try await HTTP.shared.call(.GET, a.base + "/v1/rooms/\(room)/status", bearer: ticket)
            #expect(reply.string("state") == "scheduled")
            #expect(reply.json["token"] == nil)
        }
        #expect(try await a.gate.store.redis.hgetall(RoomKeys(room: room).state)["head"] == "0")

        // Ops open the doors: the next tick draws the lottery.
        let opened = try await HTTP.shared.call(.POST, a.base + "/admin/v1/rooms/\(room)/open", bearer: RunningGate.adminKey)
        #expect(opened.status == 200)
        try await waitUntil(timeout: .seconds(6)) {
            a.gate.cache.entry(room)?.snapshot.state == .open && b.gate.cache.entry(room)?.snapshot.state == .open
        }
        func positions(_ gate: RunningGate) async throws -> [Int] {
            var result: [Int] = []
            for ticket in tickets {
                let reply = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: ticket)
                result.append(try #require(reply.int("position")))
            }
            return result
        }
        let drawn = try await positions(a)
        #expect(Set(drawn) == Set(0..<early), "the lottery is a permutation of the pre-queue")
        #expect(drawn != Array(0..<early), "the order is drawn, not arrival order")
        #expect(try await positions(b) == drawn, "the same place on the other instance")
        #expect(try await positions(a) == drawn, "the same place on the next poll")

        let late = try await HTTP.shared.call(.POST, b.base + "/v1/rooms/\(room)/join")
        #expect(late.int("position") == early, "arrivals after opening queue FIFO behind the pre-queue")

        // Admission follows the drawn order: with rate 10 for a moment, the first admitted are the lowest draws.
        let patched = try await HTTP.shared.call(.PATCH, a.base + "/admin/v1/rooms/\(room)", bearer: RunningGate.adminKey, body: #"{"rate": 20}"#)
        #expect(patched.status == 200)
        try await waitUntil(timeout: .seconds(5)) { (a.gate.cache.entry(room)?.snapshot.head ?? 0) >= 5 }
        _ = try await HTTP.shared.call(.PATCH, a.base + "/admin/v1/rooms/\(room)", bearer: RunningGate.adminKey, body: #"{"rate": 0}"#)
        let head = Int(try #require(a.gate.cache.entry(room)?.snapshot.head))
        var admitted = 0
        for (index, ticket) in tickets.enumerated() where drawn[index] < head - 1 {
            let reply = try await HTTP.shared.call(.GET, b.base + "/v1/rooms/\(room)/status", bearer: ticket)
            #expect(reply.string("state") == "admitted")
            admitted += 1
        }
        #expect(admitted >= 4)
        let notYet = tickets.indices.first { drawn[$0] > head + 30 }!
        #expect(try await HTTP.shared.call(.GET, b.base + "/v1/rooms/\(room)/status", bearer: tickets[notYet]).string("state") == "waiting")
    }

    @Test("the ramp: the rate rises linearly from the start rate to the target after opening")
    func ramp() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("ramp")
        var drop = settings(rate: 100)
        drop.opensAt = Date().addingTimeInterval(1)
        drop.rampSeconds = 2
        drop.rampStartRate = 10
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: drop])
        let redis = gate.gate.store.redis
        let keys = RoomKeys(room: room)
        try await redis.execute(["HINCRBY", .init(keys.state), "tail", 100_000])  // a long queue before opening
        try await waitUntil(timeout: .seconds(5)) { gate.gate.cache.entry(room)?.snapshot.state == .open }
        let openedAt = Double(try #require(try await redis.hgetall(keys.state)["openedAtMs"].flatMap { Int64($0) })) / 1000

        func expectedHead(_ t: Double) -> Double {
            // ∫ rate: start·t + (target − start)·t²/(2·ramp) during the ramp, then the target rate.
            let ramp = 2.0, start = 10.0, target = 100.0
            if t <= ramp { return start * t + (target - start) * t * t / (2 * ramp) }
            return start * ramp + (target - start) * ramp / 2 + target * (t - ramp)
        }
        var checked = 0
        let deadline = ContinuousClock.now + .milliseconds(3_500)
        while ContinuousClock.now < deadline {
            // Judged at the last tick's own time (Redis's clock, as the tick took it), not at the moment of
            // reading: on a busy machine the next tick can be late, and that lag is not the ramp's error.
            let replies = try await redis.execute(["HMGET", .init(keys.state), "head", "lastTickMs"])
            let fields = try #require(replies.array)
            let now = Double(fields[1].string.flatMap { Double($0) } ?? 0) / 1000
            let head = Double(fields[0].int ?? 0)
            let expected = expectedHead(now - openedAt)
            // One tick (100 ms) at the current rate (the tick credits a step at the rate of its own moment), plus rounding.
            let currentRate = AdmissionModel.rate(drop, openedAtMs: Int64(openedAt * 1000), nowMs: Int64(now * 1000))
            #expect(abs(head - expected) <= currentRate * 0.1 + 2, "t=\(now - openedAt): head \(head), expected \(expected)")
            checked += 1
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(checked >= 10)
    }
}
