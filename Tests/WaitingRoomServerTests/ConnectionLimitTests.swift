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
        let idle = try (0..<400).map { _ in try RawSocket(port: gate.port, timeout: .milliseconds(100)) }
        // Half of them have sent nothing; half sent one request and then went quiet (keep-alive).
        for socket in idle.prefix(200) {
            socket.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            socket.setTimeout(.seconds(5))
            #expect(socket.receiveResponse().hasPrefix("HTTP/1.1 200"))
            socket.setTimeout(.milliseconds(100))
        }
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
                if socket.receive() == .closed {
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
        func healthz(_ socket: RawSocket) -> String {
            socket.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            return socket.receiveResponse()
        }
        // The test's pooled HTTP client may hold a connection to this gate too, so up to 8 of these are served.
        var held: [RawSocket] = []
        var refusal = ""
        for _ in 0..<9 {
            let socket = try RawSocket(port: gate.port)
            let reply = healthz(socket)
            if reply.hasPrefix("HTTP/1.1 200") {
                held.append(socket)
            } else {
                refusal = reply + socket.receiveAll().text
                #expect(socket.receiveAll().closed, "a refused connection is closed")
                break
            }
        }
        #expect((6...8).contains(held.count), "\(held.count) connections served under a cap of 8")
        #expect(refusal.hasPrefix("HTTP/1.1 503"), "\(refusal)")
        #expect(refusal.contains(#""error":"overloaded""#))
        #expect(refusal.lowercased().contains("retry-after: 1"))
        // Still full: the next one is refused too; the connections already open are still served.
        #expect(healthz(try RawSocket(port: gate.port)).hasPrefix("HTTP/1.1 503"))
        for socket in held { #expect(healthz(socket).hasPrefix("HTTP/1.1 200")) }
        // Freeing slots lets new connections in again.
        held.removeAll()
        try await waitUntil(timeout: .seconds(5)) {
            healthz(try RawSocket(port: gate.port)).hasPrefix("HTTP/1.1 200")
        }
    }
}
