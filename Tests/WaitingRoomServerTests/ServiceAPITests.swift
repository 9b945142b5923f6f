import Foundation
import TestSupport
import Testing
import WaitingRoomServer

@Suite("Order service API")
struct ServiceAPITests {
    @Test("verify, consume (single use) and release (idempotent) with the service key only")
    func serviceRoutes() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("svc")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 100, capacity: 1)])
        defer { Task { await gate.stop() } }
        let ticket = try #require(try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join").string("ticket"))
        var token: String?
        try await waitUntil(timeout: .seconds(3)) {
            token = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: ticket).string("token")
            return token != nil
        }
        let body = #"{"token":"\#(token!)"}"#
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
}
