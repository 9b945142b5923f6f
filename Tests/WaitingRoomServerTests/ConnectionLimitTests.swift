import Foundation
import TestSupport
import Testing
import WaitingRoomServer

/// Connection limits on a real gate on loopback: idle and read timeouts, the connection cap.
@Suite("Gate: connection limits", .serialized, .stopsGates)
struct ConnectionLimitTests {
    @Test("many idle connections leave /healthz fast, and are closed after the idle timeout")
    func idleConnections() async throws {
        let server = try await TestRedisServer.shared()
        let gate = try await RunningGate.start(redisURL: server.url) {
            $0.limits.idleTimeoutMs = 4_000
            $0.limits.maxConnections = 2_000
        }
        let clock = ContinuousClock()
        let opened = clock.now
        let port = gate.port
        let idle = try (0..<400).map { _ in try RawSocket(port: port, timeout: .milliseconds(100)) }
        // Half of them have sent nothing; half sent one request and then went quiet (keep-alive).
        let answered = try await blocking {
            idle.prefix(200).filter { socket in
                socket.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                socket.setTimeout(.seconds(5))
                defer { socket.setTimeout(.milliseconds(100)) }
                return socket.receiveResponse().hasPrefix("HTTP/1.1 200")
            }.count
        }
        #expect(answered == 200)
        var worst = Duration.zero
        for _ in 0..<20 {
            let elapsed = try await clock.measure {
                let reply = try await HTTP.shared.call(.GET, gate.base + "/healthz")
                #expect(reply.status == 200)
            }
            worst = max(worst, elapsed)
        }
        #expect(worst < .milliseconds(250), "healthz took \(worst) with 400 idle connections")
        if clock.now - opened < .milliseconds(3_000) {
            let states = idle.map { "\($0.peek())" }
            #expect(states.allSatisfy { $0 == "timedOut" }, "idle connections stay open before the timeout: \(Dictionary(grouping: states.enumerated(), by: { "\($0.element) \($0.offset < 200 ? "after a request" : "silent")" }).mapValues(\.count))")
        }
        try await Task.sleep(for: .milliseconds(5_500))
        let closed = idle.filter { $0.peek() == .closed }.count
        #expect(closed == idle.count, "\(closed) of \(idle.count) idle connections closed after the idle timeout")
    }

    @Test("a request that trickles in is cut off by the read timeout, headers or body")
    func readTimeout() async throws {
        let server = try await TestRedisServer.shared()
        let gate = try await RunningGate.start(redisURL: server.url) {
            $0.limits.idleTimeoutMs = 30_000
            $0.limits.readTimeoutMs = 800
        }
        let clock = ContinuousClock()
        for (head, trickle) in [("GET /healthz HTTP/1.1\r\n", "X-Slow: a\r\n"), ("POST /v1/rooms/x/join HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", "{")] {
            let socket = try RawSocket(port: gate.port, timeout: .milliseconds(50))
            let started = clock.now
            socket.send(head)
            var closed = false
            // One piece every 100 ms: never idle, so only a read deadline can end it.
            while clock.now - started < .seconds(5) {
                if try await blocking({ socket.receive() }) == .closed {
                    closed = true
                    break
                }
                socket.send(trickle)
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(closed, "\(head) was not cut off")
            #expect(clock.now - started < .seconds(3))
        }
        // A request that arrives in time is unaffected, also on a connection that is reused.
        let socket = try RawSocket(port: gate.port)
        for _ in 0..<3 {
            socket.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(socket.receiveResponse().hasPrefix("HTTP/1.1 200"))
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    @Test("beyond the connection cap new connections get a JSON 503 and close; open ones keep being served")
    func connectionCap() async throws {
        let server = try await TestRedisServer.shared()
        let gate = try await RunningGate.start(redisURL: server.url) {
            $0.limits.maxConnections = 8
        }
        func healthz(_ socket: RawSocket) async throws -> String {
            try await blocking {
                socket.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                return socket.receiveResponse()
            }
        }
        // The test's pooled HTTP client may hold a connection to this gate too, so up to 8 of these are served.
        var held: [RawSocket] = []
        var refusal = ""
        for _ in 0..<9 {
            let socket = try RawSocket(port: gate.port)
            let reply = try await healthz(socket)
            if reply.hasPrefix("HTTP/1.1 200") {
                held.append(socket)
            } else {
                let rest = try await blocking { socket.receiveAll() }
                refusal = reply + rest.text
                #expect(rest.closed, "a refused connection is closed")
                break
            }
        }
        #expect((6...8).contains(held.count), "\(held.count) connections served under a cap of 8")
        #expect(refusal.hasPrefix("HTTP/1.1 503"), "\(refusal)")
        #expect(refusal.contains(#""error":"overloaded""#))
        #expect(refusal.lowercased().contains("retry-after: 1"))
        // Still full: the next one is refused too; the connections already open are still served.
        #expect(try await healthz(try RawSocket(port: gate.port)).hasPrefix("HTTP/1.1 503"))
        for socket in held { #expect(try await healthz(socket).hasPrefix("HTTP/1.1 200")) }
        // Freeing slots lets new connections in again.
        held.removeAll()
        try await waitUntil(timeout: .seconds(5)) {
            try await healthz(try RawSocket(port: gate.port)).hasPrefix("HTTP/1.1 200")
        }
    }

    @Test("a client that pipelines requests and never reads its answers is closed after the write timeout")
    func slowReader() async throws {
        let server = try await TestRedisServer.shared()
        let gate = try await RunningGate.start(redisURL: server.url) {
            $0.limits.writeTimeoutMs = 1_000
            $0.limits.idleTimeoutMs = 60_000
            $0.limits.readTimeoutMs = 60_000
        }
        // 300 dashboards (26 KB each, 8 MB) asked for at once, none read: more than the kernel's socket
        // buffers hold (up to 4 MB), so the gate's output goes above its high-water mark and stays there.
        // (It reads no further requests meanwhile: it writes about 4 MB, not 8.)
        let port = gate.port
        let reader = try RawSocket(port: port, timeout: .seconds(3), receiveBuffer: 4_096)
        let request = "GET /admin/dashboard HTTP/1.1\r\nHost: x\r\n\r\n"
        #expect(reader.sendWithoutWaiting(String(repeating: request, count: 300)) > 0)
        try await Task.sleep(for: .milliseconds(3_000))
        // Closed by now: what the kernel buffered ends with the end of the stream (or a reset), not a wait.
        let (drained, closed, elapsed) = try await blocking {
            let clock = ContinuousClock()
            let started = clock.now
            let drained = reader.receiveAll()
            return (drained.text.utf8.count, drained.closed, clock.now - started)
        }
        #expect(closed, "a slow reader's connection is still open after the write timeout (read \(drained) bytes)")
        #expect(elapsed < .seconds(3))
        // Everyone else is served as before.
        let other = try await blocking {
            let socket = try RawSocket(port: port)
            socket.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            return socket.receiveResponse()
        }
        #expect(other.hasPrefix("HTTP/1.1 200"))
    }

    @Test("under the connection cap, slow readers cannot lock other clients out for longer than the write timeout")
    func slowReadersFillTheCap() async throws {
        let server = try await TestRedisServer.shared()
        let gate = try await RunningGate.start(redisURL: server.url) {
            $0.limits.maxConnections = 4
            $0.limits.writeTimeoutMs = 2_000
            $0.limits.idleTimeoutMs = 60_000
            $0.limits.readTimeoutMs = 60_000
        }
        let port = gate.port
        let request = String(repeating: "GET /admin/dashboard HTTP/1.1\r\nHost: x\r\n\r\n", count: 300)
        // More slow readers than the cap: they fill it (with the test's pooled client) and the rest are refused.
        let readers = try (0..<6).map { _ in try RawSocket(port: port, timeout: .seconds(2), receiveBuffer: 4_096) }
        for reader in readers { reader.sendWithoutWaiting(request) }
        try await Task.sleep(for: .milliseconds(500))
        let refused = readers.filter { $0.peekText(12) == "HTTP/1.1 503" }
        let held = readers.filter { $0.peekText(12) == "HTTP/1.1 200" }
        #expect(!refused.isEmpty, "the cap is full of slow readers")
        #expect(!held.isEmpty)
        // After the write timeout every slow reader has been closed by the gate, and new clients get in again.
        try await Task.sleep(for: .milliseconds(3_500))
        let closed = try await blocking { held.filter { $0.receiveAll().closed }.count }
        #expect(closed == held.count, "\(held.count - closed) of \(held.count) slow readers still hold a connection")
        let served = try await blocking {
            let socket = try RawSocket(port: port)
            socket.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            return socket.receiveResponse()
        }
        #expect(served.hasPrefix("HTTP/1.1 200"), "\(served)")
    }

    @Test("under a low descriptor limit, every connection of a flood is answered (200 or 503) or closed; none is left hanging")
    func descriptorFlood() async throws {
        // Its own Redis: a gate in another process must not take part in other tests' rooms and hook deliveries.
        let server = try await TestRedisServer.start()
        let port = try freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        // The gate derives its cap from the limit (256 - 64 - 25 = 167).
        process.arguments = ["-c", #"ulimit -n 256 && exec "$0" serve"#, CLITests.binary.path]
        process.environment = [
            "WAITROOM_REDIS_URL": server.url, "WAITROOM_HTTP_PORT": "\(port)", "WAITROOM_LOG_LEVEL": "error", "PATH": "/usr/bin:/bin",
        ]
        process.currentDirectoryURL = FileManager.default.temporaryDirectory  // no Config/ from the repository
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        try await waitUntil(timeout: .seconds(20)) {
            try await blocking {
                guard let socket = try? RawSocket(port: port, timeout: .seconds(1)) else { return false }
                socket.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                return socket.receiveResponse().hasPrefix("HTTP/1.1 200")
            }
        }
        let (sockets, notConnected) = try await blocking {
            var sockets: [RawSocket] = []
            var notConnected = 0
            for _ in 0..<1_000 {
                if let socket = try? RawSocket(port: port, timeout: .milliseconds(100), connectTimeout: .seconds(2)) {
                    sockets.append(socket)
                } else {
                    notConnected += 1
                }
            }
            return (sockets, notConnected)
        }
        try await Task.sleep(for: .milliseconds(500))
        for socket in sockets { socket.sendWithoutWaiting("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") }
        try await Task.sleep(for: .seconds(2))
        var outcomes: [String: Int] = [:]
        for socket in sockets {
            let (text, closed) = socket.receiveNow()
            let outcome =
                text.hasPrefix("HTTP/1.1 200") ? "served" : text.hasPrefix("HTTP/1.1 503") ? "refused" : closed ? "closed" : text.isEmpty ? "no answer" : "other"
            outcomes[outcome, default: 0] += 1
        }
        #expect(process.isRunning, "the gate survived")
        #expect(outcomes["no answer", default: 0] == 0 && notConnected == 0, "\(outcomes), \(notConnected) not connected")
        #expect(outcomes["served", default: 0] >= 100, "\(outcomes)")
        #expect(outcomes["refused", default: 0] >= 500, "\(outcomes)")
    }
}
