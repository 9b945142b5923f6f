import Foundation
import RedisClient
import TestSupport
import Testing
import WaitingRoomCore
import WaitingRoomServer
import WaitingRoomStore
import WaitingRoomTokens

@Suite("Gate: bad input and Redis outages", .serialized, .stopsGates)
struct GateInputTests {
    @Test("bad input gets a clear 4xx with a JSON error and changes no state")
    func badInput() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("bad")
        let other = uniqueRoom("other")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 0), other: settings(rate: 0)]) {
            $0.maxBodyBytes = 1_024
        }
        let base = gate.base + "/v1/rooms/\(room)"
        let join = try await HTTP.shared.call(.POST, base + "/join")
        let ticket = try #require(join.string("ticket"))
        #expect(join.headers["Set-Cookie"].first?.contains("wr_\(room)=") == true)
        #expect(join.headers["Set-Cookie"].first?.contains("HttpOnly") == true)
        #expect(join.headers["Set-Cookie"].first?.lowercased().contains("samesite=lax") == true)
        let otherTicket = try #require(try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(other)/join").string("ticket"))

        let redis = gate.gate.store.redis
        func state() async throws -> [String] {
            let fields = try await redis.hgetall(RoomKeys(room: room).state)
            let keys = try await redis.execute(["KEYS", .init("wr:{\(room)}:*")]).array?.compactMap(\.string).sorted() ?? []
            return [fields["tail"] ?? "", fields["claims"] ?? ""] + keys
        }
        let before = try await state()

        // The same ticket again (bearer or cookie): same ticket, same place.
        let again = try await HTTP.shared.call(.POST, base + "/join", bearer: ticket)
        #expect(again.string("ticket") == ticket)
        let viaCookie = try await HTTP.shared.call(.POST, base + "/join", headers: [("Cookie", "wr_\(room)=\(ticket)")])
        #expect(viaCookie.string("ticket") == ticket)
        #expect(again.int("position") == join.int("position"))

        var tampered = Array(ticket.utf8)
        tampered[tampered.count / 3] = tampered[tampered.count / 3] == UInt8(ascii: "1") ? UInt8(ascii: "2") : UInt8(ascii: "1")
        let stale = QueueTicket(payload: ticket[..<ticket.lastIndex(of: ".")!])!
        var old = stale
        old.issuedAtMs -= 2 * 24 * 3_600 * 1_000
        let expired = gate.gate.tickets.sign(old.payload)
        var forged = stale
        forged.epoch = "not-this-room"
        let cases: [(String, HTTP.Reply, Int, String)] = [
            ("no ticket", try await HTTP.shared.call(.GET, base + "/status"), 401, "missing_ticket"),
            ("tampered", try await HTTP.shared.call(.GET, base + "/status", bearer: String(decoding: tampered, as: UTF8.self)), 401, "invalid_ticket"),
            ("garbage", try await HTTP.shared.call(.GET, base + "/status", bearer: "x.y"), 401, "invalid_ticket"),
            ("other room", try await HTTP.shared.call(.GET, base + "/status", bearer: otherTicket), 401, "foreign_ticket"),
            ("old incarnation", try await HTTP.shared.call(.GET, base + "/status", bearer: gate.gate.tickets.sign(forged.payload)), 401, "foreign_ticket"),
            ("expired", try await HTTP.shared.call(.GET, base + "/status", bearer: expired), 401, "expired_ticket"),
            ("unknown room", try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/nosuchroom/join"), 404, "not_found"),
            ("bad room name", try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/BAD%20NAME/status", bearer: ticket), 404, "not_found"),
            ("oversized", try await HTTP.shared.call(.POST, base + "/join", body: "{\"x\":\"" + String(repeating: "a", count: 2_000) + "\"}"), 413, "body_too_large"),
            ("malformed json", try await HTTP.shared.call(.POST, base + "/join", body: "{nope"), 400, "malformed_json"),
        ]
        for (name, reply, status, code) in cases {
            #expect(reply.status == status, "\(name): \(reply.status) \(reply.body)")
            #expect(reply.string("error") == code, "\(name): \(reply.body)")
            #expect(reply.string("message")?.isEmpty == false, "\(name)")
            #expect(reply.headers["Content-Type"].first?.hasPrefix("application/json") == true, "\(name)")
        }
        #expect(try await state() == before, "bad input changed Redis state")

        // A closed room answers joins with 410 and tells waiting shoppers so.
        _ = try await gate.gate.store.change(room: room, .close)
        try await waitUntil(timeout: .seconds(3)) { gate.gate.cache.entry(room)?.snapshot.state == .closed }
        let closedJoin = try await HTTP.shared.call(.POST, base + "/join")
        #expect(closedJoin.status == 410)
        #expect(closedJoin.string("error") == "closed")
        #expect(try await HTTP.shared.call(.GET, base + "/status", bearer: ticket).string("state") == "closed")
    }

    @Test("Redis outage: polls answer from the cache marked stale, joins 503 with Retry-After, all resumes after")
    func redisOutage() async throws {
        let server = try await TestRedisServer.start(arguments: ["--appendonly", "yes", "--appendfsync", "always"])
        let room = uniqueRoom("outage")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 0)]) { $0.staleAfterMs = 500 }
        let base = gate.base + "/v1/rooms/\(room)"
        let ticket = try #require(try await HTTP.shared.call(.POST, base + "/join").string("ticket"))
        let second = try #require(try await HTTP.shared.call(.POST, base + "/join").string("ticket"))
        let position = try await HTTP.shared.call(.GET, base + "/status", bearer: second).int("position")
        #expect(position == 1)

        try await server.kill()
        try await waitUntil(timeout: .seconds(5)) {
            try await HTTP.shared.call(.GET, base + "/status", bearer: second).json["stale"] as? Bool == true
        }
        let poll = try await HTTP.shared.call(.GET, base + "/status", bearer: second)
        #expect(poll.status == 200)
        #expect(poll.int("position") == 1)
        let join = try await HTTP.shared.call(.POST, base + "/join")
        #expect(join.status == 503)
        #expect(join.string("error") == "unavailable")
        #expect(join.headers["Retry-After"].first.flatMap { Int($0) } ?? 0 > 0)
        #expect(try await HTTP.shared.call(.GET, gate.base + "/readyz").status == 503)
        #expect(try await HTTP.shared.call(.GET, gate.base + "/healthz").status == 200)

        // Redis comes back with its append-only file: nobody lost their place, and no restart of the gate.
        try await server.launch()
        try await waitUntil(timeout: .seconds(10)) { try await HTTP.shared.call(.POST, base + "/join").status == 200 }
        try await waitUntil(timeout: .seconds(5)) { try await HTTP.shared.call(.GET, base + "/status", bearer: second).json["stale"] == nil }
        let after = try await HTTP.shared.call(.GET, base + "/status", bearer: second)
        #expect(after.int("position") == 1)
        #expect(try await HTTP.shared.call(.GET, base + "/status", bearer: ticket).int("position") == 0)
        #expect(try await HTTP.shared.call(.GET, gate.base + "/readyz").status == 200)
    }
}
