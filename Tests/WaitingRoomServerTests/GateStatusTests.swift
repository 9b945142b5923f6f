import Foundation
import TestSupport
import Testing
import WaitingRoomCore
import WaitingRoomServer
import WaitingRoomStore
import WaitingRoomTokens

/// What a shopper's browser reads: every field of the join and status answers.
@Suite("Gate: join and status answers", .serialized, .stopsGates)
struct GateStatusTests {
    @Test("join carries the ETA a poll would; rate 0 is on hold; admitted carries token, checkout URL and expiry")
    func answers() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("answers")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 0, ttl: 600)])

        // Rate 0: nothing is admitted, and the answers say so instead of showing a moving queue.
        let held = try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join")
        #expect(held.status == 200)
        #expect(held.json["onHold"] as? Bool == true, "\(held.body)")
        #expect(held.json["etaSeconds"] is NSNull, "\(held.body)")
        let ticket = try #require(held.string("ticket"))
        let heldStatus = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: ticket)
        #expect(heldStatus.json["onHold"] as? Bool == true && heldStatus.json["etaSeconds"] is NSNull, "\(heldStatus.body)")

        // Rate 2/s with a queue of 40 in front: the join answer already carries the range, as status does.
        var queue: [String] = []
        for _ in 0..<40 { queue.append(try #require(try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join").string("ticket"))) }
        _ = try await HTTP.shared.call(.PATCH, gate.base + "/admin/v1/rooms/\(room)", bearer: RunningGate.adminKey, body: #"{"rate": 2}"#)
        try await waitUntil(timeout: .seconds(3)) { gate.gate.cache.entry(room)?.snapshot.settings.rate == 2 }
        let late = try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join")
        let position = try #require(late.int("position"))
        let eta = try #require(late.json["etaSeconds"] as? [String: Any], "\(late.body)")
        let low = try #require(eta["low"] as? Int), high = try #require(eta["high"] as? Int)
        let expected = Double(position + 1) / 2
        #expect(Double(low) <= expected && expected <= Double(high), "\(position) ahead at 2/s: \(late.body)")
        #expect(late.json["onHold"] as? Bool == false)
        let polled = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: try #require(late.string("ticket")))
        let polledETA = try #require(polled.json["etaSeconds"] as? [String: Any])
        #expect(abs((polledETA["high"] as? Int ?? 0) - high) <= 2, "join and status agree: \(late.body) / \(polled.body)")

        // The first shopper's turn: the admitted answer has everything the page needs to go to checkout.
        var admitted: HTTP.Reply?
        try await waitUntil(timeout: .seconds(5)) {
            let reply = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: ticket)
            if reply.string("state") == "admitted" { admitted = reply }
            return admitted != nil
        }
        let answer = try #require(admitted)
        #expect(answer.string("checkoutUrl") == "https://shop.example/checkout")
        let token = try #require(answer.string("token"))
        let claims = try JSONDecoder().decode(AdmissionClaims.self, from: Data(JSONWebToken.parse(token).payload))
        let expiresAt = try #require(answer.int("expiresAt"))
        #expect(expiresAt == Int(claims.exp))
        #expect(abs(Double(expiresAt) - Date().timeIntervalSince1970 - 600) < 10, "session TTL 600 s")
        #expect(claims.aud == room)
    }
}
