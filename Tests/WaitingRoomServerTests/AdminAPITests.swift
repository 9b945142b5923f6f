import Foundation
import TestSupport
import Testing
import WaitingRoomCore
import WaitingRoomServer

@Suite("Admin API", .serialized, .stopsGates)
struct AdminAPITests {
    @Test("every admin route: 401 without the key, 400 naming the field, CRUD and state changes")
    func adminRoutes() async throws {
        let server = try await TestRedisServer.shared()
        let gate = try await RunningGate.start(redisURL: server.url)
        let room = uniqueRoom("admin")
        let url = gate.base + "/admin/v1/rooms/\(room)"
        let key = RunningGate.adminKey
        let body = #"{"rate": 5, "capacity": 10, "claimWindowSeconds": 30, "checkoutUrl": "https://shop.example/checkout"}"#

        for (method, path) in [(HTTPMethodName.GET, "/admin/v1/rooms"), (.PUT, "/admin/v1/rooms/\(room)"), (.DELETE, "/admin/v1/rooms/\(room)"), (.POST, "/admin/v1/rooms/\(room)/pause")] {
            for bearer in [nil, "wrong-key-wrong-key-wrong", RunningGate.serviceKey] {
                let reply = try await HTTP.shared.call(method.nio, gate.base + path, bearer: bearer, body: method == .PUT ? body : nil)
                #expect(reply.status == 401, "\(method) \(path) with \(bearer ?? "no key")")
                #expect(reply.string("error") == "unauthorized")
            }
        }
        #expect(try await HTTP.shared.call(.GET, gate.base + "/admin/v1/rooms/nosuch", bearer: key).status == 404)

        let created = try await HTTP.shared.call(.PUT, url, bearer: key, body: body)
        #expect(created.status == 201, "\(created.body)")
        let settings = created.json["settings"] as? [String: Any]
        #expect(settings?["rate"] as? Double == 5)
        #expect(settings?["state"] as? String == "open")

        let invalid: [(String, String)] = [
            (#"{"rate": -1}"#, "rate"), (#"{"rate": "fast"}"#, "rate"), (#"{"colour": "red"}"#, "colour"),
            (#"{"capacity": 1.5}"#, "capacity"), (#"{"checkoutUrl": "ftp://x"}"#, "checkoutUrl"), (#"{"opensAt": "tomorrow"}"#, "opensAt"),
        ]
        for (patch, field) in invalid {
            let reply = try await HTTP.shared.call(.PATCH, url, bearer: key, body: patch)
            #expect(reply.status == 400, "\(patch)")
            #expect(reply.string("message")?.hasPrefix(field) == true, "\(patch): \(reply.body)")
        }
        #expect(try await HTTP.shared.call(.PUT, gate.base + "/admin/v1/rooms/Bad.Name", bearer: key, body: body).status == 400)
        #expect(try await HTTP.shared.call(.PATCH, url, bearer: key, body: "{nope").status == 400)

        let patched = try await HTTP.shared.call(.PATCH, url, bearer: key, body: #"{"rate": 40, "capacity": null}"#)
        #expect(patched.status == 200)
        #expect((patched.json["settings"] as? [String: Any])?["rate"] as? Double == 40)
        #expect((patched.json["settings"] as? [String: Any])?["capacity"] is NSNull, "an unset setting shows as null: \(patched.body)")

        #expect(try await HTTP.shared.call(.POST, url + "/pause", bearer: key).json["settings"].flatMap { ($0 as? [String: Any])?["state"] as? String } == "paused")
        #expect(try await HTTP.shared.call(.POST, url + "/resume", bearer: key).json["settings"].flatMap { ($0 as? [String: Any])?["state"] as? String } == "open")
        #expect(try await HTTP.shared.call(.POST, url + "/close", bearer: key).json["settings"].flatMap { ($0 as? [String: Any])?["state"] as? String } == "closed")
        #expect(try await HTTP.shared.call(.POST, url + "/pause", bearer: key).status == 409)
        #expect(try await HTTP.shared.call(.POST, url + "/open", bearer: key).status == 200)
        #expect(try await HTTP.shared.call(.POST, url + "/explode", bearer: key).status == 404)

        let list = try await HTTP.shared.call(.GET, gate.base + "/admin/v1/rooms", bearer: key)
        #expect((list.json["rooms"] as? [[String: Any]])?.contains { $0["room"] as? String == room } == true)
        #expect(list.json["redisReachable"] as? Bool == true, "the dashboard's gates light: \(list.body.prefix(300))")
        #expect((list.json["gates"] as? [[String: Any]])?.contains { $0["staleRooms"] is Int } == true, "each gate says how many rooms it cannot refresh")
        let one = try await HTTP.shared.call(.GET, url, bearer: key)
        let live = try #require(one.json["live"] as? [String: Any])
        for field in ["waiting", "tail", "head", "active", "offers", "joinsPerSecond", "admissionsPerSecond", "claimRatio"] {
            #expect(live[field] != nil, "live.\(field)")
        }

        #expect(try await HTTP.shared.call(.DELETE, url, bearer: key).status == 204)
        #expect(try await HTTP.shared.call(.DELETE, url, bearer: key).status == 404)
        #expect(try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join").status == 404)
    }

    @Test("an unset secret shows as null like every unset setting (a set one as (set)), and null clears it")
    func unsetSecretIsNull() async throws {
        let gate = try await RunningGate.start(redisURL: (try await TestRedisServer.shared()).url)
        defer { Task { await gate.stop() } }
        let url = gate.base + "/admin/v1/rooms/\(uniqueRoom("secret"))"
        let key = RunningGate.adminKey
        func secret(_ reply: HTTP.Reply) -> Any? { (reply.json["settings"] as? [String: Any])?["joinPassSecret"] as Any? }

        let created = try await HTTP.shared.call(.PUT, url, bearer: key, body: #"{"rate": 5, "checkoutUrl": "/checkout"}"#)
        #expect(created.status == 201, "\(created.body)")
        #expect(secret(created) is NSNull, "unset is null, not \"\": \(created.body)")
        #expect(secret(try await HTTP.shared.call(.GET, url, bearer: key)) is NSNull)
        let set = try await HTTP.shared.call(.PATCH, url, bearer: key, body: #"{"joinPassSecret": "join-pass-secret-0123456789abcdef0123"}"#)
        #expect(secret(set) as? String == "(set)", "\(set.body)")
        let cleared = try await HTTP.shared.call(.PATCH, url, bearer: key, body: #"{"joinPassSecret": null}"#)
        #expect(cleared.status == 200, "\(cleared.body)")
        #expect(secret(cleared) is NSNull, "\(cleared.body)")
        #expect(try await HTTP.shared.call(.PATCH, url, bearer: key, body: #"{"joinPassSecret": ""}"#).status == 200, "\"\" still clears it")
        #expect(try await HTTP.shared.call(.DELETE, url, bearer: key).status == 204)
    }

    @Test("a live rate change: the admission rate measured after a PATCH matches the new rate")
    func liveRateChange() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("rate")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 20)])
        let redis = gate.gate.store.redis
        // Fill the queue so admission is limited by the rate alone.
        _ = try await gate.gate.store.change(room: room, .pause)
        try await redis.execute(["HSET", .init("wr:{\(room)}:room"), "tail", "100000"])
        _ = try await gate.gate.store.change(room: room, .resume)

        // Admissions per second of Redis clock between two ticks (whoever ran them): what the admission
        // arithmetic did, not how promptly a loaded test machine scheduled the ticks.
        func measuredRate(over seconds: Double) async throws -> Double {
            func sample() async throws -> (Double, Double) {
                let fields = try await redis.execute(["HMGET", .init("wr:{\(room)}:room"), "head", "lastTickMs"]).array ?? []
                return (Double(fields[0].int ?? 0), Double(fields[1].int ?? 0) / 1000)
            }
            let (head0, t0) = try await sample()
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            let (head1, t1) = try await sample()
            return (head1 - head0) / (t1 - t0)
        }
        let before = try await measuredRate(over: 2)
        #expect(abs(before - 20) <= 20 * 0.1 + 1, "before: \(before)/s")
        let patched = try await HTTP.shared.call(.PATCH, gate.base + "/admin/v1/rooms/\(room)", bearer: RunningGate.adminKey, body: #"{"rate": 80}"#)
        #expect(patched.status == 200)
        try await Task.sleep(for: .milliseconds(200))
        let after = try await measuredRate(over: 2)
        #expect(abs(after - 80) <= 80 * 0.1 + 1, "after: \(after)/s")
    }
}

enum HTTPMethodName: String { case GET, PUT, DELETE, POST, PATCH }

import NIOHTTP1
extension HTTPMethodName {
    var nio: HTTPMethod { HTTPMethod(rawValue: rawValue) }
}
