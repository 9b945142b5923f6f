import Foundation
import TestSupport
import Testing
import WaitingRoomCore
import WaitingRoomServer

/// The public room board: one cacheable document for every shopper, and the `place` that lets a page work
/// out its own position from it.
@Suite("Gate: the room board", .serialized, .stopsGates)
struct BoardRouteTests {
    static let fields: Set<String> = [
        "room", "version", "serverTimeMs", "state", "opensAtMs", "head", "tail", "onHold", "stale", "readAfterMs",
        "claimWindowSeconds", "eta", "prequeue", "lotteryCommitment", "lotteryKey", "lotteryBeacon",
    ]

    /// A board's text without its clock and version (which the clock changes).
    static func withoutClock(_ body: String) -> String {
        body.replacingOccurrences(of: #""version":"[0-9a-f]+","serverTimeMs":[0-9]+"#, with: "", options: .regularExpression)
    }

    @Test("no cache in front: pages reading the gate directly are told to read less often, up to the poll ceiling")
    func pacedWithoutCache() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("board-paced")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 0)]) { $0.boardReadsPerSecond = 20 }
        let first = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/board")
        #expect(first.int("readAfterMs") == 1_500)
        // 400 reads in about two seconds, as 600 pages reading every 1.5 s would: far over 20 a second.
        var told: [Int] = []
        for _ in 0..<8 {
            try await withThrowingTaskGroup(of: Int?.self) { group in
                for _ in 0..<50 { group.addTask { try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/board").int("readAfterMs") } }
                for try await value in group { if let value { told.append(value) } }
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        let last = try #require(try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/board").int("readAfterMs"))
        #expect(last > 1_500, "stretched: \(told.suffix(5))")
        #expect(last <= RoomBoard.readInterval(60_000, claimWindowSeconds: 60), "never past the poll ceiling")
    }

    @Test("the board is public and cacheable, the same for every shopper, and position = place − head − 1")
    func boardAndPlace() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("board")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 0)])
        var tickets: [String] = []
        var places: [Int] = []
        for _ in 0..<30 {
            let join = try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join")
            tickets.append(try #require(join.string("ticket")))
            places.append(try #require(join.int("place"), "\(join.body)"))
        }
        #expect(places == Array(1...30), "places are the sequence numbers, in order")
        try await waitUntil(timeout: .seconds(3)) { gate.gate.cache.entry(room)?.snapshot.tail == 30 }

        // Read as three different shoppers (and as nobody): the same bytes, no cookie, public caching.
        let anonymous = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/board")
        #expect(anonymous.status == 200)
        #expect(anonymous.headers["Cache-Control"].first == "public, max-age=1, stale-while-revalidate=5, stale-if-error=30")
        #expect(anonymous.headers["Set-Cookie"].isEmpty && anonymous.headers["Vary"].isEmpty)
        let etag = try #require(anonymous.headers["ETag"].first)
        for ticket in tickets.prefix(3) {
            let asShopper = try await HTTP.shared.call(
                .GET, gate.base + "/v1/rooms/\(room)/board", headers: [("Cookie", "wr_\(room)=\(ticket)"), ("Authorization", "Bearer \(ticket)")]
            )
            // The same document (the server clock, in whole seconds, and the version it changes may tick
            // between two reads on a loaded machine; nothing else may differ).
            #expect(Self.withoutClock(asShopper.body) == Self.withoutClock(anonymous.body), "nothing per shopper on the board")
        }
        #expect(Set(anonymous.json.keys) == Self.fields, "\(anonymous.body)")
        #expect(anonymous.string("state") == "open")
        #expect(anonymous.int("tail") == 30 && anonymous.int("head") == 0)
        #expect(anonymous.json["onHold"] as? Bool == true, "rate 0: on hold")
        #expect((anonymous.json["eta"] as? [Any])?.isEmpty == true)
        #expect(anonymous.int("readAfterMs") == 1_500)
        #expect("\"\(try #require(anonymous.string("version")))\"" == etag)

        // The board only changes when the room does (or its whole-second clock ticks): revalidation right
        // after a read answers 304 without a body (a few tries, in case a second ticked in between).
        var again = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/board", headers: [("If-None-Match", etag)])
        for _ in 0..<5 where again.status != 304 {
            let fresh = try #require(try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/board").headers["ETag"].first)
            again = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/board", headers: [("If-None-Match", fresh)])
        }
        #expect(again.status == 304 && again.body.isEmpty)
        #expect(again.headers["ETag"].first != nil)

        // Admitting: the knots cover the line, and a shopper's own position follows from place and head.
        _ = try await HTTP.shared.call(.PATCH, gate.base + "/admin/v1/rooms/\(room)", bearer: RunningGate.adminKey, body: #"{"rate": 2}"#)
        try await waitUntil(timeout: .seconds(5)) { (gate.gate.cache.entry(room)?.snapshot.head ?? 0) >= 2 }
        let moving = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/board")
        #expect(moving.headers["ETag"].first != etag, "a new version once the room moved")
        let knots = try #require(moving.json["eta"] as? [[Int]], "\(moving.body)")
        let head = try #require(moving.int("head")), tail = try #require(moving.int("tail"))
        #expect(knots.first?[0] == 0 && knots.last?[0] == max(0, tail - head - 1), "\(moving.body)")
        #expect(zip(knots, knots.dropFirst()).allSatisfy { $0[0] < $1[0] && $0[1] <= $1[1] && $0[2] <= $1[2] })
        let last = try #require(tickets.last)
        let status = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: last)
        let position = try #require(status.int("position"), "\(status.body)")
        let place = try #require(status.int("place"))
        #expect(place == 30)
        let headNow = try #require(try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/board").int("head"))
        #expect(abs((place - headNow - 1) - position) <= 2, "position from the board (head \(headNow)) and from status agree: \(status.body)")

        // Pausing shows on the board at once (this gate's cache takes the admin change).
        _ = try await HTTP.shared.call(.POST, gate.base + "/admin/v1/rooms/\(room)/pause", bearer: RunningGate.adminKey)
        try await waitUntil(timeout: .seconds(3)) {
            try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/board").string("state") == "paused"
        }
    }

    @Test("an unknown room: a short-lived cacheable 404 with a JSON error; a bad name too")
    func unknownRoom() async throws {
        let server = try await TestRedisServer.shared()
        let gate = try await RunningGate.start(redisURL: server.url)
        for name in ["no-such-room", "bad%20name", String(repeating: "x", count: 65)] {
            let reply = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(name)/board")
            #expect(reply.status == 404)
            #expect(reply.string("error") == "not_found", "\(reply.body)")
            #expect(reply.headers["Cache-Control"].first == "public, max-age=5")
            #expect(reply.headers["Set-Cookie"].isEmpty)
        }
    }

    @Test("a scheduled room: the opening time, no ETA, no lottery key, and join answers with no place yet")
    func scheduled() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("board-sched")
        var scheduled = settings(rate: 5)
        scheduled.opensAt = Date().addingTimeInterval(3_600)
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: scheduled])
        let join = try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join")
        #expect(join.string("state") == "scheduled")
        #expect(join.json["place"] is NSNull, "a pre-queued place is drawn at opening: \(join.body)")
        let board = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/board")
        #expect(board.string("state") == "scheduled")
        let opensAtMs = try #require(board.json["opensAtMs"] as? Int)
        let opensAt = try #require(scheduled.opensAt)
        #expect(abs(Double(opensAtMs) / 1000 - opensAt.timeIntervalSince1970) < 1)
        #expect(board.json["lotteryKey"] is NSNull)
        #expect((board.json["eta"] as? [Any])?.isEmpty == true)
    }
}
