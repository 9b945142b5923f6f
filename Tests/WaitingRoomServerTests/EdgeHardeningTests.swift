import Foundation
import TestSupport
import Testing
import WaitingRoomCore
import WaitingRoomServer
import WaitingRoomStore
import WaitingRoomTokens

/// The smaller holes: JSON errors everywhere, page security headers, the metrics key, ticket choice,
/// and the per-client join limit end to end.
@Suite("Gate: edge hardening", .serialized, .stopsGates)
struct EdgeHardeningTests {
    @Test("every error is JSON: unrouted paths, wrong methods, HEAD, parser errors, malformed chunked bodies")
    func jsonErrors() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("json")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 0)])

        let unrouted = try await HTTP.shared.call(.GET, gate.base + "/no/such/path")
        #expect(unrouted.status == 404)
        #expect(unrouted.string("error") == "not_found")
        #expect(unrouted.headers["Content-Type"].first?.hasPrefix("application/json") == true)
        let wrongMethod = try await HTTP.shared.call(.DELETE, gate.base + "/healthz")
        #expect(wrongMethod.status >= 400 && wrongMethod.string("error") != nil, "\(wrongMethod.status) \(wrongMethod.body)")

        // HEAD: the GET's status and headers, no body; unrouted HEAD is a 404 with JSON headers.
        let head = try await HTTP.shared.call(.HEAD, gate.base + "/healthz")
        #expect(head.status == 200)
        #expect(head.body.isEmpty)
        let headMissing = try await HTTP.shared.call(.HEAD, gate.base + "/nothing-here")
        #expect(headMissing.status == 404)
        #expect(headMissing.body.isEmpty)
        #expect(headMissing.headers["Content-Type"].first?.hasPrefix("application/json") == true)

        // A request line Hummingbird cannot parse.
        let port = gate.port
        let parsed = try await blocking {
            let garbage = try RawSocket(port: port)
            garbage.send("THIS IS NOT HTTP\r\n\r\n")
            return garbage.receiveAll().text
        }
        #expect(parsed.hasPrefix("HTTP/1.1 400"), "\(parsed)")
        #expect(parsed.contains(#""error":"bad_request""#), "\(parsed)")

        // A malformed chunked body is a 400, not a 413, and takes no place.
        let tailBefore = try await gate.gate.store.redis.hgetall(RoomKeys(room: room).state)["tail"]
        let reply = try await blocking {
            let chunked = try RawSocket(port: port)
            chunked.send("POST /v1/rooms/\(room)/join HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
            return chunked.receiveAll().text
        }
        #expect(reply.hasPrefix("HTTP/1.1 400"), "\(reply)")
        #expect(reply.contains(#""error":"#), "\(reply)")
        #expect(try await gate.gate.store.redis.hgetall(RoomKeys(room: room).state)["tail"] == tailBefore)
    }

    @Test("pages carry a CSP without inline script, no framing, nosniff and no referrer")
    func pageHeaders() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("csp")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 1)])
        for path in ["/wait/\(room)", "/admin/dashboard", "/wait/no-such-room"] {
            let page = try await HTTP.shared.call(.GET, gate.base + path)
            let csp = try #require(page.headers["Content-Security-Policy"].first, "\(path)")
            let scriptSource = try #require(csp.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.first { $0.hasPrefix("script-src") })
            #expect(!scriptSource.contains("unsafe-inline"), "\(path): \(csp)")
            #expect(csp.contains("frame-ancestors 'none'"))
            #expect(page.headers["X-Frame-Options"].first == "DENY")
            #expect(page.headers["X-Content-Type-Options"].first == "nosniff")
            #expect(page.headers["Referrer-Policy"].first == "no-referrer")
            // Every inline script the page runs is allowed by its hash (or the page would not work).
            for script in Self.inlineScripts(page.body) {
                let hash = Data(Digest.sha256(Array(script.utf8))).base64EncodedString()
                #expect(scriptSource.contains("'sha256-\(hash)'"), "\(path): script not in the policy")
            }
        }
        let worker = try await HTTP.shared.call(.GET, gate.base + "/assets/pow-worker.js")
        #expect(worker.status == 200)
        #expect(worker.headers["Content-Type"].first?.hasPrefix("text/javascript") == true)
        #expect(worker.headers["X-Content-Type-Options"].first == "nosniff")
        #expect(worker.body.contains("function solve"))
        #expect(try await HTTP.shared.call(.GET, gate.base + "/assets/../Package.swift").status == 404)
        #expect(try await HTTP.shared.call(.GET, gate.base + "/assets/nothing.js").string("error") == "not_found")
    }

    static func inlineScripts(_ html: String) -> [String] {
        var scripts: [String] = []
        var rest = html[...]
        while let open = rest.range(of: "<script"), let end = rest[open.upperBound...].firstIndex(of: ">"),
            let close = rest[end...].range(of: "</script>")
        {
            let attributes = rest[open.upperBound..<end]
            // Data blocks (type="application/json") are not run: they need no hash.
            if !attributes.contains("src="), !attributes.contains("application/json") {
                scripts.append(String(rest[rest.index(after: end)..<close.lowerBound]))
            }
            rest = rest[close.upperBound...]
        }
        return scripts
    }

    @Test("framing the parser lets through is answered at once: no Host on HTTP/1.1, chunked on HTTP/1.0, a body over the limit, an unknown Expect")
    func framing() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("framing")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 0)])
        let join = "POST /v1/rooms/\(room)/join"
        let cases: [(request: String, status: String, code: String)] = [
            ("GET /healthz HTTP/1.1\r\n\r\n", "HTTP/1.1 400", "missing_host"),
            ("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "HTTP/1.1 400", "missing_host"),
            ("\(join) HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n", "HTTP/1.0 400", "bad_framing"),
            ("\(join) HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n", "HTTP/1.1 413", "body_too_large"),
            ("\(join) HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\nExpect: 100-continue\r\n\r\n", "HTTP/1.1 413", "body_too_large"),
            ("\(join) HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: something-else\r\n\r\n", "HTTP/1.1 417", "expectation_failed"),
            // After an answered request on the same connection, too.
            ("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n", "HTTP/1.1 200", "missing_host"),
        ]
        let tail = try await gate.gate.store.redis.hgetall(RoomKeys(room: room).state)["tail"]
        let port = gate.port
        for (request, status, code) in cases {
            let (text, closed, elapsed) = try await blocking {
                let socket = try RawSocket(port: port, timeout: .seconds(4))
                let clock = ContinuousClock()
                let started = clock.now
                socket.send(request)
                let reply = socket.receiveAll()
                return (reply.text, reply.closed, clock.now - started)
            }
            #expect(text.hasPrefix(status), "\(request): \(text)")
            #expect(text.contains(#""error":"\#(code)""#), "\(request): \(text)")
            #expect(text.lowercased().contains("x-content-type-options: nosniff"), "\(request): \(text)")
            #expect(closed, "\(request): the connection closes after the refusal")
            #expect(elapsed < .seconds(2), "\(request): answered at once, not at the read timeout")
        }
        #expect(try await gate.gate.store.redis.hgetall(RoomKeys(room: room).state)["tail"] == tail, "refused joins take no place")

        // Expect: 100-continue with a body the gate takes: 100 Continue, and the answer once the body came.
        let (interim, joined) = try await blocking {
            let socket = try RawSocket(port: port, timeout: .seconds(4))
            socket.send("\(join) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
            // The client waits for the 100 before it sends the body.
            guard case .data(let interim) = socket.receive() else { return ("", "") }
            socket.send("{}")
            return (interim, interim.contains(" 200 ") ? interim : socket.receiveResponse())
        }
        #expect(interim.hasPrefix("HTTP/1.1 100 Continue\r\n"), "\(interim)")
        #expect(joined.contains("HTTP/1.1 200"), "\(joined)")
        // HTTP/1.0 needs no Host.
        let old = try await blocking {
            let socket = try RawSocket(port: port)
            socket.send("GET /healthz HTTP/1.0\r\n\r\n")
            return socket.receiveAll().text
        }
        #expect(old.contains(" 200 OK\r\n"), "\(old)")
    }

    @Test("request bodies with a key written twice are refused, at any depth; JSON errors carry nosniff")
    func duplicateKeys() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("dupes")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 1)])
        let admin = gate.base + "/admin/v1/rooms/\(room)"
        for body in [#"{"rate":1,"rate":1000}"#, #"{"rate":2,"r\u0061te":1000}"#, #"{"hooks":[{"url":"https://a.example/h","url":"https://b.example/h"}]}"#] {
            let refused = try await HTTP.shared.call(.PATCH, admin, bearer: RunningGate.adminKey, body: body)
            #expect(refused.status == 400, "\(body): \(refused.body)")
            #expect(refused.string("error") == "duplicate_key", "\(body): \(refused.body)")
            #expect(refused.headers["X-Content-Type-Options"].first == "nosniff")
        }
        let view = try await HTTP.shared.call(.GET, admin, bearer: RunningGate.adminKey)
        #expect((view.json["settings"] as? [String: Any])?["rate"] as? Double == 1, "nothing changed: \(view.body)")
        let join = try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join", body: #"{"fresh":false,"fresh":true}"#)
        #expect(join.status == 400)
        #expect(join.string("error") == "duplicate_key")
        // The same keys in different objects are fine.
        #expect(try await HTTP.shared.call(.PATCH, admin, bearer: RunningGate.adminKey, body: #"{"rate":2,"hooks":[]}"#).status == 200)
        // nosniff on every JSON error: unrouted, unauthorized, malformed.
        for reply in [
            try await HTTP.shared.call(.GET, gate.base + "/no/such/path"),
            try await HTTP.shared.call(.GET, admin),
            try await HTTP.shared.call(.PATCH, admin, bearer: RunningGate.adminKey, body: "{"),
        ] {
            #expect(reply.status >= 400)
            #expect(reply.headers["X-Content-Type-Options"].first == "nosniff", "\(reply.status) \(reply.body)")
        }
    }

    @Test("/readyz answers from the refresher's state: probes send Redis no command")
    func readyzCostsNoRedisCommand() async throws {
        let server = try await TestRedisServer.start()  // its own Redis: its command counts are this gate's alone
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [uniqueRoom("ready"): settings(rate: 1)])
        let redis = gate.gate.store.redis
        func scriptCalls() async throws -> Int {
            let info = try await redis.execute(["INFO", "commandstats"]).string ?? ""
            // `cmdstat_script|load:calls=8,…` (Redis 7 counts subcommands apart; older servers `cmdstat_script:`).
            return info.split(separator: "\r\n").filter { $0.hasPrefix("cmdstat_script") }
                .compactMap { $0.split(separator: ",").first.flatMap { Int($0.split(separator: "=").last ?? "") } }.reduce(0, +)
        }
        let before = try await scriptCalls()
        for _ in 0..<50 { #expect(try await HTTP.shared.call(.GET, gate.base + "/readyz").status == 200) }
        #expect(try await scriptCalls() == before, "readyz sent SCRIPT commands to Redis")
        // Still a real readiness check: Redis gone, not ready (within the stale limit); back, ready again.
        try await server.kill()
        try await waitUntil(timeout: .seconds(6)) { try await HTTP.shared.call(.GET, gate.base + "/readyz").status == 503 }
        let down = try await HTTP.shared.call(.GET, gate.base + "/readyz")
        #expect(down.string("error") == "unavailable")
        #expect(down.string("message") != nil)
        try await server.launch()
        try await waitUntil(timeout: .seconds(10)) { try await HTTP.shared.call(.GET, gate.base + "/readyz").status == 200 }
    }

    @Test("with WAITROOM_METRICS_KEY, /metrics needs the key; without it, it stays open")
    func metricsKey() async throws {
        let server = try await TestRedisServer.shared()
        let key = "metrics-key-for-tests-0123456789"
        let locked = try await RunningGate.start(redisURL: server.url) { $0.limits.metricsKey = key }
        let refused = try await HTTP.shared.call(.GET, locked.base + "/metrics")
        #expect(refused.status == 401)
        #expect(refused.string("error") == "unauthorized")
        #expect(try await HTTP.shared.call(.GET, locked.base + "/metrics", bearer: "wrong-key-wrong-key-wrong").status == 401)
        let allowed = try await HTTP.shared.call(.GET, locked.base + "/metrics", bearer: key)
        #expect(allowed.status == 200)
        #expect(allowed.body.contains("waitroom_joins_total"))
        let open = try await RunningGate.start(redisURL: server.url)
        #expect(try await HTTP.shared.call(.GET, open.base + "/metrics").status == 200)
    }

    @Test("a valid bearer ticket wins over a junk cookie, and a valid cookie over a junk bearer")
    func ticketChoice() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("choice")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 0)])
        let base = gate.base + "/v1/rooms/\(room)"
        let ticket = try #require(try await HTTP.shared.call(.POST, base + "/join").string("ticket"))
        let junkCookie = try await HTTP.shared.call(.GET, base + "/status", bearer: ticket, headers: [("Cookie", "wr_\(room)=junk.junk")])
        #expect(junkCookie.status == 200, "\(junkCookie.body)")
        let junkBearer = try await HTTP.shared.call(.GET, base + "/status", bearer: "junk.junk", headers: [("Cookie", "wr_\(room)=\(ticket)")])
        #expect(junkBearer.status == 200, "\(junkBearer.body)")
        let bothJunk = try await HTTP.shared.call(.GET, base + "/status", bearer: "junk.junk", headers: [("Cookie", "wr_\(room)=junk.jink")])
        #expect(bothJunk.status == 401)
    }

    @Test("the ticket choice rule", arguments: [
        (nil, nil, nil), ("c", nil, "c"), (nil, "b", "b"), ("good", "bad", "good"), ("bad", "good", "good"),
        ("bad", "bad2", "bad"), ("good", "good2", "good"), ("", "good", "good"), ("same", "same", "same"),
    ] as [(String?, String?, String?)])
    func choiceRule(cookie: String?, bearer: String?, expected: String?) {
        #expect(Gate.preferValidTicket(cookie: cookie, bearer: bearer) { $0.hasPrefix("good") } == expected)
    }

    @Test("per-client join limit: 429 rate_limited with Retry-After, no place taken; rejoins are free; proxies only when trusted")
    func joinLimit() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("limit")
        var limited = settings(rate: 0)
        limited.joinsPerClientPerMinute = 3
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: limited])
        let url = gate.base + "/v1/rooms/\(room)/join"
        var tickets: [String] = []
        for _ in 0..<3 {
            let join = try await HTTP.shared.call(.POST, url, headers: [("X-Forwarded-For", "198.51.100.\(tickets.count)")])
            #expect(join.status == 200)
            tickets.append(try #require(join.string("ticket")))
        }
        let tail = try await gate.gate.store.redis.hgetall(RoomKeys(room: room).state)["tail"]
        // Spoofed forwarding headers and a forged peer header do not make a new client.
        for headers in [[("X-Forwarded-For", "203.0.113.77")], [("Forwarded", "for=203.0.113.78")], [("X-Waitroom-Peer", "203.0.113.79")], []] {
            let refused = try await HTTP.shared.call(.POST, url, headers: headers)
            #expect(refused.status == 429)
            #expect(refused.string("error") == "rate_limited")
            #expect(refused.string("message") != nil)
            #expect(Int(refused.headers["Retry-After"].first ?? "") ?? 0 >= 1)
        }
        #expect(try await gate.gate.store.redis.hgetall(RoomKeys(room: room).state)["tail"] == tail, "refused joins take no place")
        // A shopper who already has a ticket keeps it without spending the budget.
        let rejoin = try await HTTP.shared.call(.POST, url, bearer: tickets[0])
        #expect(rejoin.status == 200)
        #expect(rejoin.string("ticket") == tickets[0])

        // Behind a trusted proxy (here: loopback), each forwarded client has its own budget.
        let strict = uniqueRoom("limit1")
        var onePerMinute = settings(rate: 0)
        onePerMinute.joinsPerClientPerMinute = 1
        let proxied = try await RunningGate.start(redisURL: server.url, rooms: [strict: onePerMinute]) {
            $0.limits.trustedProxies = try! TrustedProxies.parse("127.0.0.1").get()
        }
        let proxiedURL = proxied.base + "/v1/rooms/\(strict)/join"
        #expect(try await HTTP.shared.call(.POST, proxiedURL, headers: [("X-Forwarded-For", "198.51.100.1")]).status == 200)
        #expect(try await HTTP.shared.call(.POST, proxiedURL, headers: [("X-Forwarded-For", "198.51.100.2")]).status == 200)
        #expect(try await HTTP.shared.call(.POST, proxiedURL, headers: [("X-Forwarded-For", "198.51.100.1")]).status == 429)
        // ... and a client cannot escape by prepending its own entry: the rightmost untrusted hop counts.
        #expect(try await HTTP.shared.call(.POST, proxiedURL, headers: [("X-Forwarded-For", "1.1.1.1, 198.51.100.2")]).status == 429)
        // IPv6 clients share a budget per /64.
        #expect(try await HTTP.shared.call(.POST, proxiedURL, headers: [("X-Forwarded-For", "2001:db8:5:6::1")]).status == 200)
        #expect(try await HTTP.shared.call(.POST, proxiedURL, headers: [("X-Forwarded-For", "2001:db8:5:6::2")]).status == 429)
    }
}

@Suite("Gate: rooms another gate created", .stopsGates)
struct RoomLookupTests {
    @Test("a room created through one gate is joinable on another at once; unknown rooms stay a JSON 404")
    func lookupBeforeNotFound() async throws {
        let server = try await TestRedisServer.shared()
        // A slow refresher: without the look-up, gate B would not know the room for 30 s.
        let a = try await RunningGate.start(redisURL: server.url) { $0.refreshIntervalMs = 30_000 }
        let b = try await RunningGate.start(redisURL: server.url) { $0.refreshIntervalMs = 30_000 }
        let unknown = uniqueRoom("later")
        let before = try await HTTP.shared.call(.POST, b.base + "/v1/rooms/\(unknown)/join")
        #expect(before.status == 404)
        #expect(before.string("error") == "not_found")

        let room = uniqueRoom("fresh")
        let created = try await HTTP.shared.call(
            .PUT, a.base + "/admin/v1/rooms/\(room)", bearer: RunningGate.adminKey, body: #"{"rate":5,"checkoutUrl":"/checkout"}"#
        )
        #expect(created.status == 201 || created.status == 200)
        let joined = try await HTTP.shared.call(.POST, b.base + "/v1/rooms/\(room)/join")
        #expect(joined.status == 200)
        let ticket = try #require(joined.string("ticket"))
        #expect(try await HTTP.shared.call(.GET, b.base + "/v1/rooms/\(room)/status", bearer: ticket).status == 200)
        #expect(try await HTTP.shared.call(.GET, b.base + "/wait/\(room)").status == 200)

        // A flood of unknown names: every answer a JSON 404, the gate still serves the real room.
        for index in 0..<300 {
            let reply = try await HTTP.shared.call(.GET, b.base + "/v1/rooms/nope-\(index)/status", bearer: ticket)
            #expect(reply.status == 404)
            #expect(reply.string("error") == "not_found")
        }
        #expect(try await HTTP.shared.call(.GET, b.base + "/v1/rooms/\(room)/status", bearer: ticket).status == 200)
    }
}

@Suite("Gate health", .stopsGates)
struct GateHealthTests {
    @Test("every gate shows in the room list by its heartbeat; a stopped gate turns unhealthy")
    func heartbeats() async throws {
        let server = try await TestRedisServer.start()  // its own Redis: only these two gates write heartbeats
        let a = try await RunningGate.start(redisURL: server.url)
        let b = try await RunningGate.start(redisURL: server.url)
        func gates() async throws -> [[String: Any]] {
            try await HTTP.shared.call(.GET, a.base + "/admin/v1/rooms", bearer: RunningGate.adminKey).json["gates"] as? [[String: Any]] ?? []
        }
        try await waitUntil(timeout: .seconds(5)) { try await gates().filter { $0["healthy"] as? Bool == true }.count == 2 }
        await b.stop()
        try await waitUntil(timeout: .seconds(12)) {
            let list = try await gates()
            return list.count == 2 && list.filter { $0["healthy"] as? Bool == true }.count == 1
        }
        let silent = try #require(try await gates().first { $0["healthy"] as? Bool == false })
        #expect((silent["ageSeconds"] as? Double ?? 0) >= 5)
    }
}

@Suite("Shared join budget", .stopsGates)
struct SharedJoinBudgetTests {
    @Test("with WAITROOM_SHARED_JOIN_BUDGET the per-client limit holds across gates together, not per gate")
    func sharedAcrossGates() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("budget")
        var limited = settings(rate: 0)
        limited.joinsPerClientPerMinute = 3
        let adjust = { (configuration: inout GateConfiguration) in
            configuration.limits.trustedProxies = try! TrustedProxies.parse("127.0.0.1").get()
            configuration.limits.sharedJoinBudget = true
        }
        let a = try await RunningGate.start(redisURL: server.url, rooms: [room: limited], adjust: adjust)
        let b = try await RunningGate.start(redisURL: server.url, adjust: adjust)
        try await waitUntil(timeout: .seconds(3)) { b.gate.cache.entry(room) != nil }
        var statuses: [Int] = []
        for index in 0..<6 {
            let gate = index.isMultiple(of: 2) ? a : b
            statuses.append(try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join", headers: [("X-Forwarded-For", "198.51.100.7")]).status)
        }
        // Each gate's own bucket would allow 3 (6 in all): shared, the client gets 3 between both gates.
        #expect(statuses == [200, 200, 200, 429, 429, 429], "\(statuses)")
        // Another client is not affected.
        #expect(try await HTTP.shared.call(.POST, b.base + "/v1/rooms/\(room)/join", headers: [("X-Forwarded-For", "198.51.100.8")]).status == 200)
    }
}
