import Foundation
import RedisClient
import TestSupport
import Testing
import WaitingRoomServer
import WaitingRoomStore

@Suite("Order service API", .stopsGates)
struct ServiceAPITests {
    @Test("verify, consume (single use) and release (idempotent) with the service key only")
    func serviceRoutes() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("svc")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 100, capacity: 1)])
        let (_, token) = try await admitted(gate, room)
        let body = #"{"token":"\#(token)"}"#
        let service = RunningGate.serviceKey
        for key in [nil, RunningGate.adminKey, "nope-nope-nope-nope"] {
            #expect(try await HTTP.shared.call(.POST, gate.base + "/v1/admissions/verify", bearer: key, body: body).status == 401)
        }
        let verified = try await HTTP.shared.call(.POST, gate.base + "/v1/admissions/verify", bearer: service, body: body)
        #expect(verified.status == 200)
        #expect(verified.string("aud") == room)
        #expect(try await HTTP.shared.call(.POST, gate.base + "/v1/admissions/verify", bearer: service, body: #"{"token":"a.b.c"}"#).status == 401)
        #expect(try await HTTP.shared.call(.POST, gate.base + "/v1/admissions/verify", bearer: service, body: #"{"nope":1}"#).status == 400)
        #expect(try await HTTP.shared.call(.POST, gate.base + "/v1/admissions/consume", bearer: service, body: body).status == 200)
        #expect(try await HTTP.shared.call(.POST, gate.base + "/v1/admissions/consume", bearer: service, body: body).status == 409)
        #expect(try await HTTP.shared.call(.POST, gate.base + "/v1/admissions/release", bearer: service, body: body).status == 204)
        #expect(try await HTTP.shared.call(.POST, gate.base + "/v1/admissions/release", bearer: service, body: body).status == 204)
        try await waitUntil(timeout: .seconds(3)) { gate.gate.cache.entry(room)?.snapshot.releases == 1 }
        #expect(gate.gate.cache.entry(room)?.snapshot.active == 0)
    }

    @Test("consume with an idempotency key: the same key again is 200 (counted once), another key or none is 409; bad keys are 400")
    func idempotentConsume() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("svcidem")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 100)])
        func consume(_ token: String, _ key: String?) async throws -> HTTP.Reply {
            let field = key.map { #","idempotencyKey":"\#($0)""# } ?? ""
            return try await HTTP.shared.call(.POST, gate.base + "/v1/admissions/consume", bearer: RunningGate.serviceKey, body: #"{"token":"\#(token)"\#(field)}"#)
        }
        let (_, token) = try await admitted(gate, room)
        for bad in ["", String(repeating: "k", count: 129), "two words", "caf\u{e9}"] {
            let refused = try await consume(token, bad)
            #expect(refused.status == 400 && refused.string("error") == "invalid_idempotency_key", "\(bad): \(refused.status)")
        }
        let numeric = try await HTTP.shared.call(
            .POST, gate.base + "/v1/admissions/consume", bearer: RunningGate.serviceKey, body: #"{"token":"\#(token)","idempotencyKey":7}"#)
        #expect(numeric.status == 400)
        // None of the refused calls used the token.
        let first = try await consume(token, "order-1")
        #expect(first.status == 200 && first.string("aud") == room)
        #expect(try await consume(token, "order-1").status == 200)
        #expect(try await consume(token, "order-2").status == 409)
        #expect(try await consume(token, nil).status == 409)
        // Released after the order: the same key still learns its consume went through.
        #expect(try await HTTP.shared.call(.POST, gate.base + "/v1/admissions/release", bearer: RunningGate.serviceKey, body: #"{"token":"\#(token)"}"#).status == 204)
        #expect(try await consume(token, "order-1").status == 200)
        // Without a key the first consume wins and every other is refused, keyed or not.
        let (_, plain) = try await admitted(gate, room)
        #expect(try await consume(plain, nil).status == 200)
        #expect(try await consume(plain, "order-3").status == 409)
        let metrics = try await HTTP.shared.call(.GET, gate.base + "/metrics").body
        #expect(metrics.contains("waitroom_consumes_total 2"), "each token counted once")
    }

    @Test(
        "with MIN_REPLICAS=1, consume and release wait for a replica: 503 with Retry-After while it is cut off; then 200, 409 on reuse, and the replica holds the consumed marker",
        .timeLimit(.minutes(1))
    )
    func consumeAndReleaseWaitForReplica() async throws {
        let primary = try await TestRedisServer.start()
        let replica = try await TestRedisServer.startReplica(of: primary)
        let primaryClient = RedisClient(configuration: primary.configuration)
        let replicaClient = RedisClient(configuration: replica.configuration)
        defer {
            primaryClient.close()
            replicaClient.close()
        }
        func inSync() async throws -> Bool { try await primaryClient.execute(["WAIT", "1", "100"]).int == 1 }
        try await waitUntil(timeout: .seconds(10)) { try await inSync() }
        let room = uniqueRoom("svcwait")
        let gate = try await RunningGate.start(redisURL: primary.url, rooms: [room: settings(rate: 100)]) {
            $0.redisMinReplicas = 1
            $0.redisMinReplicasTimeoutMs = 300
            $0.redisCommandTimeoutMs = 1_000
        }
        let (_, unpromised) = try await admitted(gate, room)
        let (_, token) = try await admitted(gate, room)
        func call(_ action: String, _ token: String) async throws -> HTTP.Reply {
            try await HTTP.shared.call(.POST, gate.base + "/v1/admissions/\(action)", bearer: RunningGate.serviceKey, body: #"{"token":"\#(token)"}"#)
        }

        try replica.pause()
        let consumeCut = try await call("consume", unpromised)
        let releaseCut = try await call("release", unpromised)
        try replica.resume()
        #expect(consumeCut.status == 503 && consumeCut.headers.first(name: "Retry-After") != nil, "\(consumeCut.status) \(consumeCut.body)")
        #expect(releaseCut.status == 503 && releaseCut.headers.first(name: "Retry-After") != nil, "\(releaseCut.status) \(releaseCut.body)")

        try await waitUntil(timeout: .seconds(10)) { try await inSync() }
        let consumed = try await call("consume", token)
        #expect(consumed.status == 200)
        #expect(try await call("consume", token).status == 409)
        let jti = try #require(consumed.string("jti"))
        #expect(try await replicaClient.send(["EXISTS", RedisArgument(RoomKeys(room: room).consumed(jti: jti))]) == .integer(1))
        #expect(try await call("release", token).status == 204)
        // The unpromised consume did run on the primary: its retry finds the token used (README) — unless it
        // carries the same idempotency key, when it learns that its consume went through.
        #expect(try await call("consume", unpromised).status == 409)
        let (_, keyed) = try await admitted(gate, room)
        let withKey = #"{"token":"\#(keyed)","idempotencyKey":"order-42"}"#
        try replica.pause()
        let keyedCut = try await HTTP.shared.call(.POST, gate.base + "/v1/admissions/consume", bearer: RunningGate.serviceKey, body: withKey)
        try replica.resume()
        #expect(keyedCut.status == 503)
        try await waitUntil(timeout: .seconds(10)) { try await inSync() }
        #expect(try await HTTP.shared.call(.POST, gate.base + "/v1/admissions/consume", bearer: RunningGate.serviceKey, body: withKey).status == 200)
    }

    /// Claims a token for a fresh shopper in `room`; returns (ticket, token).
    private func admitted(_ gate: RunningGate, _ room: String) async throws -> (String, String) {
        let ticket = try #require(try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join").string("ticket"))
        var token: String?
        try await waitUntil(timeout: .seconds(3)) {
            token = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: ticket).string("token")
            return token != nil
        }
        return (ticket, try #require(token))
    }

    @Test("an admission ends: after release or consume, status says done and hands out no token; verify says why")
    func admissionEnds() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("end")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 100)])
        let service = RunningGate.serviceKey
        let status = { (ticket: String) in try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: ticket) }

        // Released: status turns "done" (reason released) and stays so; verify and consume refuse it.
        let (releasedTicket, releasedToken) = try await admitted(gate, room)
        #expect(try await status(releasedTicket).string("token") == releasedToken)  // re-polls get the same token while it lasts
        let released = #"{"token":"\#(releasedToken)"}"#
        #expect(try await HTTP.shared.call(.POST, gate.base + "/v1/admissions/release", bearer: service, body: released).status == 204)
        for _ in 0..<2 {
            let reply = try await status(releasedTicket)
            #expect(reply.status == 200)
            #expect(reply.string("state") == "done")
            #expect(reply.string("reason") == "released")
            #expect(reply.string("token") == nil)
        }
        let verifyReleased = try await HTTP.shared.call(.POST, gate.base + "/v1/admissions/verify", bearer: service, body: released)
        #expect(verifyReleased.status == 409)
        #expect(verifyReleased.string("error") == "admission_ended")
        #expect(verifyReleased.string("reason") == "released")
        let consumeReleased = try await HTTP.shared.call(.POST, gate.base + "/v1/admissions/consume", bearer: service, body: released)
        #expect(consumeReleased.status == 409)
        #expect(consumeReleased.string("reason") == "released")
        // Joining again with the ended ticket keeps that ticket (and so stays done), no new place.
        let rejoin = try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join", bearer: releasedTicket)
        #expect(rejoin.string("ticket") == releasedTicket)
        // "Join again" asks for a fresh place at the back; a bad value changes nothing.
        let tailBefore = try #require(gate.gate.cache.entry(room)?.snapshot.tail)
        let bad = try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join", bearer: releasedTicket, body: #"{"fresh":"yes"}"#)
        #expect(bad.status == 400)
        #expect(bad.string("error") == "invalid_fresh")
        let again = try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join", bearer: releasedTicket, body: #"{"fresh":true}"#)
        #expect(again.status == 200)
        let freshTicket = try #require(again.string("ticket"))
        #expect(freshTicket != releasedTicket)
        try await waitUntil(timeout: .seconds(3)) { gate.gate.cache.entry(room)?.snapshot.tail == tailBefore + 1 }

        // Consumed: status says done (reason consumed); verify says so.
        let (consumedTicket, consumedToken) = try await admitted(gate, room)
        let consumed = #"{"token":"\#(consumedToken)"}"#
        #expect(try await HTTP.shared.call(.POST, gate.base + "/v1/admissions/verify", bearer: service, body: consumed).status == 200)
        #expect(try await HTTP.shared.call(.POST, gate.base + "/v1/admissions/consume", bearer: service, body: consumed).status == 200)
        let after = try await status(consumedTicket)
        #expect(after.string("state") == "done")
        #expect(after.string("reason") == "consumed")
        #expect(after.string("token") == nil)
        let verifyConsumed = try await HTTP.shared.call(.POST, gate.base + "/v1/admissions/verify", bearer: service, body: consumed)
        #expect(verifyConsumed.status == 409)
        #expect(verifyConsumed.string("reason") == "consumed")
        // Releasing after the order still frees the slot and keeps the end as "consumed".
        #expect(try await HTTP.shared.call(.POST, gate.base + "/v1/admissions/release", bearer: service, body: consumed).status == 204)
        #expect(try await status(consumedTicket).string("reason") == "consumed")
    }
}
