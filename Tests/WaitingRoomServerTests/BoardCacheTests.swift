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

    /// The gate's count of board reads it answered.
    static func boardReads(_ gate: RunningGate) async throws -> Int {
        let text = try await HTTP.shared.call(.GET, gate.base + "/metrics").body
        let line = text.split(separator: "\n").first { $0.hasPrefix("waitroom_board_reads_total ") }
        return line.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }.map { Int($0) } ?? 0
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
