import Foundation
import RedisClient
import Synchronization
import TestSupport
import Testing
import WaitingRoomCore
import WaitingRoomServer

/// The reference nginx configuration (`Docker/nginx.conf`, run by Debian's nginx) in front of a real gate: the
/// board reaches the gate about once a second however many shoppers read it, a shopper's own answers are
/// never cached, and a pause reaches every page within about 3 s.
@Suite("Board behind the reference nginx cache", .serialized, .stopsGates)
struct BoardCacheTests {
    static let reference = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Docker/nginx.conf").standardized

    /// A counter of the gate's (`waitroom_board_reads_total`, `waitroom_page_loads_total`).
    static func counter(_ name: String, _ gate: RunningGate) async throws -> Int {
        let text = try await HTTP.shared.call(.GET, gate.base + "/metrics").body
        let line = text.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }.map { Int($0) } ?? 0
    }

    /// The gate's count of board reads it answered.
    static func boardReads(_ gate: RunningGate) async throws -> Int {
        try await counter("waitroom_board_reads_total", gate)
    }

    @Test("thousands of shoppers' board reads reach the gate about once a second; join and status pass through uncached")
    func burst() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("cached")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 0)])
        let nginx = try await TestNginx.start(reference: Self.reference, upstreams: [gate.port])
        defer { nginx.stop() }

        // Shoppers join through nginx: each gets their own place and cookie (nothing of theirs is cached).
        var tickets: [String] = []
        for _ in 0..<200 {
            let join = try await HTTP.shared.call(.POST, nginx.base + "/v1/rooms/\(room)/join")
            #expect(join.status == 200 && !join.headers["Set-Cookie"].isEmpty, "\(join.body)")
            tickets.append(try #require(join.string("ticket")))
        }
        let first = try await HTTP.shared.call(.GET, nginx.base + "/v1/rooms/\(room)/status", bearer: tickets[0])
        let last = try await HTTP.shared.call(.GET, nginx.base + "/v1/rooms/\(room)/status", bearer: tickets[199])
        #expect(first.int("place") == 1 && last.int("place") == 200, "status is each shopper's own: \(first.body) / \(last.body)")

        // A burst: 3,000 board reads, each as a different shopper (own cookie, ticket and address), 64 at a time.
        let shoppers = tickets
        let before = try await Self.boardReads(gate)
        let started = ContinuousClock.now
        let bodies = Box<Set<String>>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<64 {
                group.addTask {
                    for index in stride(from: lane, to: 3_000, by: 64) {
                        let ticket = shoppers[index % shoppers.count]
                        let reply = try await HTTP.shared.call(
                            .GET, nginx.base + "/v1/rooms/\(room)/board",
                            headers: [("Cookie", "wr_\(room)=\(ticket); shopper=\(index)"), ("Authorization", "Bearer \(ticket)"), ("X-Forwarded-For", "10.1.\(index / 250).\(index % 250)")]
                        )
                        #expect(reply.status == 200)
                        #expect(reply.headers["Set-Cookie"].isEmpty)
                        bodies.value.withLock { _ = $0.insert(reply.string("room") ?? "?") }
                    }
                }
            }
            try await group.waitForAll()
        }
        let seconds = (ContinuousClock.now - started).seconds
        let reached = try await Self.boardReads(gate) - before
        print("board behind nginx: 3,000 reads by distinct shoppers in \(String(format: "%.1f", seconds)) s reached the gate \(reached) times")
        #expect(bodies.value.withLock { $0 } == [room])
        #expect(reached >= 1 && Double(reached) <= seconds.rounded(.up) + 2, "\(reached) gate reads in \(seconds) s")
    }

    @Test("the waiting page in a language is cached like the board; the language redirect and the no-JavaScript page are each shopper's own")
    func pages() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("cached-page")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 0)])
        let nginx = try await TestNginx.start(reference: Self.reference, upstreams: [gate.port])
        defer { nginx.stop() }

        // 1,000 page loads by distinct shoppers, 32 at a time: the gate renders (answers) about one a second.
        let before = try await Self.counter("waitroom_page_loads_total", gate)
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<32 {
                group.addTask {
                    for index in stride(from: lane, to: 1_000, by: 32) {
                        let page = try await HTTP.shared.call(
                            .GET, nginx.base + "/wait/\(room)/en", headers: [("Cookie", "shopper=\(index)"), ("X-Forwarded-For", "10.2.\(index / 250).\(index % 250)")]
                        )
                        #expect(page.status == 200 && page.body.contains("<html"))
                        #expect(page.headers["Set-Cookie"].isEmpty)
                    }
                }
            }
            try await group.waitForAll()
        }
        let seconds = (ContinuousClock.now - started).seconds
        let reached = try await Self.counter("waitroom_page_loads_total", gate) - before
        print("page behind nginx: 1,000 loads by distinct shoppers in \(String(format: "%.1f", seconds)) s reached the gate \(reached) times")
        #expect(reached >= 1 && Double(reached) <= seconds.rounded(.up) + 2, "\(reached) page renders in \(seconds) s")

        // The bare address redirects by the shopper's Accept-Language: never one shopper's answer for another.
        for (accept, language) in [("de-DE,de;q=0.9", "de"), ("fr", "fr"), ("de", "de"), ("ja", "ja"), ("en", "en")] {
            let redirect = try await blocking {
                let socket = try RawSocket(port: nginx.port)
                _ = socket.send("GET /wait/\(room) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Language: \(accept)\r\nConnection: close\r\n\r\n")
                return socket.receiveAll().text
            }
            #expect(redirect.hasPrefix("HTTP/1.1 302") && redirect.contains("Location: /wait/\(room)/\(language)"), "\(accept): \(redirect)")
        }
        // Without JavaScript the page joins for the shopper: each load reaches the gate, with its own cookie.
        let noScriptBefore = try await Self.counter("waitroom_page_loads_total", gate)
        for _ in 0..<3 {
            let page = try await HTTP.shared.call(.GET, nginx.base + "/wait/\(room)/en?js=0")
            #expect(page.status == 200 && !page.headers["Set-Cookie"].isEmpty, "\(page.headers)")
        }
        #expect(try await Self.counter("waitroom_page_loads_total", gate) - noScriptBefore == 3)
    }

    @Test("a pause shows on every page reading the board through the cache within about 3 s")
    func pauseReachesEveryPage() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("cached-pause")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 0.5)])
        let nginx = try await TestNginx.start(reference: Self.reference, upstreams: [gate.port])
        defer { nginx.stop() }
        let readAfter = try #require(try await HTTP.shared.call(.GET, nginx.base + "/v1/rooms/\(room)/board").int("readAfterMs"))

        // 200 pages, each reading every readAfterMs (as the page does: revalidating, `Cache-Control: no-cache`),
        // each starting at its own moment within the interval.
        let pausedAt = Box<ContinuousClock.Instant?>(nil)
        let lastSeen = Box<Duration>(.zero)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for page in 0..<200 {
                group.addTask {
                    try await Task.sleep(for: .milliseconds(readAfter * page / 200))
                    let deadline = ContinuousClock.now + .seconds(20)
                    while ContinuousClock.now < deadline {
                        let board = try await HTTP.shared.call(.GET, nginx.base + "/v1/rooms/\(room)/board", headers: [("Cache-Control", "no-cache")])
                        if board.string("state") == "paused", let at = pausedAt.value.withLock({ $0 }) {
                            let after = ContinuousClock.now - at
                            lastSeen.value.withLock { $0 = max($0, after) }
                            return
                        }
                        try await Task.sleep(for: .milliseconds(readAfter))
                    }
                    lastSeen.value.withLock { $0 = .seconds(99) }
                }
            }
            try await Task.sleep(for: .seconds(3))
            pausedAt.value.withLock { $0 = .now }
            let paused = try await HTTP.shared.call(.POST, nginx.base + "/admin/v1/rooms/\(room)/pause", bearer: RunningGate.adminKey)
            #expect(paused.status == 200, "\(paused.body)")
            try await group.waitForAll()
        }
        let worst = lastSeen.value.withLock { $0 }
        print("board behind nginx: the last of 200 pages saw the pause \(worst) after it (reading every \(readAfter) ms)")
        #expect(worst < .milliseconds(readAfter + 1_800), "every page within one read interval plus the cache's second")
    }
}

/// Shared state for a test's concurrent tasks.
final class Box<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
}
