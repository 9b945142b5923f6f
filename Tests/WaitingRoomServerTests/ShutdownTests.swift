import Foundation
import TestSupport
import Testing
import WaitingRoomCore
import WaitingRoomServer
import WaitingRoomStore

@Suite("Graceful shutdown", .serialized, .stopsGates)
struct ShutdownTests {
    @Test("SIGTERM during a burst of joins: every join that got a 200 holds a valid place afterwards")
    func sigtermDuringJoins() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("term")
        let port = try freePort()
        let roomsFile = FileManager.default.temporaryDirectory.appendingPathComponent("rooms-\(room).yaml").path
        try "rooms:\n  \(room):\n    rate: 0\n    checkoutUrl: https://shop.example/checkout\n    joinsPerClientPerMinute: 0\n".write(toFile: roomsFile, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = OrderServiceEndToEndTests.packageRoot.appendingPathComponent(".build/debug/waitroom")
        process.arguments = ["serve"]
        process.environment = [
            "WAITROOM_HTTP_PORT": String(port), "WAITROOM_REDIS_URL": server.url, "WAITROOM_ROOMS_FILE": roomsFile,
            "WAITROOM_SIGNING_KEY_FILE": RunningGate.keyFile, "WAITROOM_TICKET_SECRET": "ticket-secret-shared-by-instances",
            "WAITROOM_LOG_LEVEL": "error", "PATH": "/usr/bin:/bin",
        ]
        process.currentDirectoryURL = FileManager.default.temporaryDirectory  // no Config/ here: defaults + env
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // A failing test must not leave a gate ticking every room of the shared Redis for later tests.
        defer { if process.isRunning { process.terminate() } }
        let base = "http://127.0.0.1:\(port)"
        try await waitUntil(timeout: .seconds(15)) { (try? await HTTP.shared.call(.GET, base + "/readyz").status) == 200 }

        let tickets = Locked<[String]>([])
        let burst = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<32 {
                    group.addTask {
                        while true {
                            guard let reply = try? await HTTP.shared.call(.POST, base + "/v1/rooms/\(room)/join") else { return }
                            if reply.status == 200, let ticket = reply.string("ticket") { tickets.withLock { $0.append(ticket) } }
                        }
                    }
                }
            }
        }
        try await waitUntil(timeout: .seconds(10)) { tickets.withLock { $0.count } >= 300 }
        kill(process.processIdentifier, SIGTERM)
        await burst.value
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)

        let issued = tickets.withLock { $0 }
        #expect(issued.count >= 300)
        let check = try await RunningGate.start(redisURL: server.url)
        try await waitUntil(timeout: .seconds(3)) { check.gate.cache.entry(room) != nil }
        let tail = try #require(check.gate.cache.entry(room)?.snapshot.tail)
        var seqs = Set<Int64>()
        for ticket in issued {
            let reply = try await HTTP.shared.call(.GET, check.base + "/v1/rooms/\(room)/status", bearer: ticket)
            #expect(reply.status == 200 && reply.string("state") == "waiting", "\(reply.status) \(reply.body)")
            let seq = try #require(QueueTicket(payload: ticket[..<ticket.lastIndex(of: ".")!])?.seq)
            #expect(seq <= tail)
            seqs.insert(seq)
        }
        #expect(seqs.count == issued.count, "every 200 holds its own place")
    }
}
