import Foundation
import TestSupport
import Testing
import WaitingRoomCore
import WaitingRoomServer
import WaitingRoomTokens
import WaitingRoomVerifier

/// Issue 20's admission holes, as a shopper and an operator meet them over HTTP (real Redis, real clock).
@Suite("Gate: admission limits whatever the settings", .serialized, .stopsGates)
struct AdmissionLimitsGateTests {
    /// Runs `body` against a gate with `rooms`, and waits for the gate to stop (also when `body` throws).
    private func withGate(_ rooms: [String: RoomSettings], _ body: (RunningGate) async throws -> Void) async throws {
        let server = try await TestRedisServer.shared()
        let gate = try await RunningGate.start(redisURL: server.url, rooms: rooms)
        do {
            try await body(gate)
        } catch {
            await gate.stop()
            throw error
        }
        await gate.stop()
    }

    /// `count` shoppers join a room at rate 100 and are all offered at once; then the rate drops to `rate`, so
    /// the entry gate spaces their claims 1/`rate` apart. Their tickets, in line order.
    private func offeredAtOnce(_ count: Int, room: String, gate: RunningGate, thenRate rate: String) async throws -> [String] {
        var tickets: [String] = []
        for _ in 0..<count { tickets.append(try #require(try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join").string("ticket"))) }
        try await waitUntil(timeout: .seconds(5)) { gate.gate.cache.entry(room)?.snapshot.head == Int64(count) }
        let patched = try await HTTP.shared.call(.PATCH, gate.base + "/admin/v1/rooms/\(room)", bearer: RunningGate.adminKey, body: #"{"rate": \#(rate)}"#)
        #expect(patched.status == 200, "\(patched.body)")
        return tickets
    }

    @Test("one ticket, one admission: polls after a 1 s session inside a 60 s claim window answer done, never a new token")
    func oneAdmissionPerTicket() async throws {
        let room = uniqueRoom("once")
        try await withGate([room: settings(rate: 100, claimWindow: 60, ttl: 1)]) { gate in
            let ticket = try #require(try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join").string("ticket"))
            var first: String?
            try await waitUntil(timeout: .seconds(5)) {
                let reply = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: ticket)
                if reply.string("state") == "admitted" { first = reply.string("token") }
                return first != nil
            }
            // Poll on past the session's end: every answer is the same admission, then "done" — never another.
            var answers: [String] = []
            try await waitUntil(timeout: .seconds(5), every: .milliseconds(100)) {
                let reply = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: ticket)
                let state = reply.string("state") ?? "?"
                answers.append(state)
                if state == "admitted" { #expect(reply.string("token") == first, "a second admission: \(reply.body)") }
                if state == "done" { #expect(reply.string("reason") == "expired", "\(reply.body)") }
                return state == "done"
            }
            #expect(answers.allSatisfy { $0 == "admitted" || $0 == "done" }, "\(answers)")
            let claims = try await HTTP.shared.call(.GET, gate.base + "/admin/v1/rooms/\(room)", bearer: RunningGate.adminKey)
            #expect((claims.json["live"] as? [String: Any])?["claims"] as? Int == 1, "\(claims.body)")
        }
    }

    @Test("a rate the model cannot carry is refused with 400 invalid_rate, as JSON; 0 and the minimum are taken", arguments: [
        #"{"rate": 1e-17}"#, #"{"rate": 0.0009}"#, #"{"rate": 5e-324}"#, #"{"rampStartRate": 1e-17}"#,
    ])
    func tinyRateRefused(patch: String) async throws {
        let room = uniqueRoom("tiny")
        try await withGate([room: settings(rate: 10)]) { gate in
            let url = gate.base + "/admin/v1/rooms/\(room)"
            let refused = try await HTTP.shared.call(.PATCH, url, bearer: RunningGate.adminKey, body: patch)
            #expect(refused.status == 400, "\(refused.body)")
            #expect(refused.headers.first(name: "content-type")?.hasPrefix("application/json") == true)
            let field = patch.contains("rampStartRate") ? "rampStartRate" : "rate"
            #expect(refused.string("error") == "invalid_\(field)", "\(refused.body)")
            #expect(refused.string("message")?.contains("0.001") == true, "\(refused.body)")
            for rate in ["0", "0.001"] {
                #expect(try await HTTP.shared.call(.PATCH, url, bearer: RunningGate.adminKey, body: #"{"rate": \#(rate)}"#).status == 200)
            }
            let put = try await HTTP.shared.call(.PUT, url, bearer: RunningGate.adminKey, body: #"{"rate": 1e-17, "checkoutUrl": "/checkout"}"#)
            #expect(put.status == 400 && put.string("error") == "invalid_rate", "\(put.body)")
        }
    }

    @Test("20 entries reserved at 0.1/s, then 100/s: the next shopper is admitted at once, not told 'entering' for 199 s")
    func fasterRateReachesTheEntrySchedule() async throws {
        let room = uniqueRoom("faster")
        try await withGate([room: settings(rate: 100, claimWindow: 600)]) { gate in
            let tickets = try await offeredAtOnce(21, room: room, gate: gate, thenRate: "0.1")
            let url = gate.base + "/admin/v1/rooms/\(room)"
            var states: [String] = []
            for ticket in tickets.prefix(20) {
                states.append(try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: ticket).string("state") ?? "?")
            }
            #expect(states.filter { $0 == "entering" }.count >= 18, "the entry gate spaces them 10 s apart: \(states)")
            #expect(try await HTTP.shared.call(.PATCH, url, bearer: RunningGate.adminKey, body: #"{"rate": 100}"#).status == 200)
            let next = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: tickets[20])
            #expect(next.string("state") == "admitted", "\(next.body)")
            // The 20th, reserved ~190 s ahead at the old rate, is not overtaken: its next poll finds it due within a second.
            let reserved = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: tickets[19])
            let eta = (reserved.json["etaSeconds"] as? [String: Any])?["high"] as? Int
            #expect(reserved.string("state") == "admitted" || (reserved.string("state") == "entering" && (eta ?? 99) <= 1), "\(reserved.body)")
        }
    }

    @Test("an entry moment ≤ 3 s away comes with its token (nbf that second), refused before it by a strict verifier; further off, no token")
    func earlyToken() async throws {
        let room = uniqueRoom("early")
        try await withGate([room: settings(rate: 100, claimWindow: 600)]) { gate in
            let tickets = try await offeredAtOnce(5, room: room, gate: gate, thenRate: "0.5")
            // The entry gate spaces them 2 s apart: about 0, 2, 4, 6, 8 s away.
            var answers: [HTTP.Reply] = []
            for ticket in tickets { answers.append(try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: ticket)) }
            let jwks = try JSONDecoder().decode(JSONWebKeySet.self, from: Data(try await HTTP.shared.call(.GET, gate.base + "/.well-known/jwks.json").body.utf8))
            var early = 0, withheld = 0
            for (answer, ticket) in zip(answers, tickets) where answer.string("state") == "entering" {
                let entersInMs = answer.json["entersInMs"] as? Int
                guard let token = answer.string("token") else {
                    withheld += 1
                    #expect(entersInMs == nil && answer.json["checkoutUrl"] == nil, "\(answer.body)")
                    #expect(((answer.json["etaSeconds"] as? [String: Any])?["high"] as? Int ?? 0) > 3, "a near moment without its token: \(answer.body)")
                    continue
                }
                early += 1
                let wait = try #require(entersInMs, "\(answer.body)")
                #expect(wait > 0 && wait <= 3_000, "\(answer.body)")
                #expect(answer.string("checkoutUrl") == "https://shop.example/checkout" && answer.json["expiresAt"] is Int, "\(answer.body)")
                // nbf is the moment's second; a verifier without leeway refuses the token until then.
                let nbf = try #require(try JSONSerialization.jsonObject(with: Data(Base64URL.decode(token.split(separator: ".")[1]) ?? [])) as? [String: Any])["nbf"] as? Int
                let moment = Date().timeIntervalSince1970 + Double(wait) / 1000
                #expect(abs(Double(try #require(nbf)) - moment) < 2, "nbf \(String(describing: nbf)) vs the moment \(moment)")
                let strict = { (at: Int) in AdmissionVerifier(jwks: jwks, issuer: "waitroom", leeway: 0, now: { Date(timeIntervalSince1970: Double(at)) }) }
                await #expect(throws: VerificationError.self) { try await strict(nbf! - 1).verify(token, room: room) }
                #expect(try await strict(nbf!).verify(token, room: room).aud == room)
                // Asking again after the moment gives the same admission: the very same token.
                if early == 1 {
                    try await Task.sleep(for: .milliseconds(wait + 50))
                    let again = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: ticket)
                    #expect(again.string("state") == "admitted" && again.string("token") == token, "\(again.body)")
                }
            }
            #expect(early >= 1 && withheld >= 1, "\(answers.map(\.body))")
        }
    }

    @Test("a rate below an old ramp's start rate just works: the start rate is lowered and the answer says so")
    func rateBelowOldRampStart() async throws {
        let room = uniqueRoom("ramp")
        var ramped = settings(rate: 1)
        ramped.rampSeconds = 1
        ramped.rampStartRate = 0.2
        try await withGate([room: ramped]) { gate in
            let url = gate.base + "/admin/v1/rooms/\(room)"
            let patched = try await HTTP.shared.call(.PATCH, url, bearer: RunningGate.adminKey, body: #"{"rate": 0.1}"#)
            #expect(patched.status == 200, "\(patched.body)")
            let settings = try #require(patched.json["settings"] as? [String: Any])
            #expect(settings["rate"] as? Double == 0.1 && settings["rampStartRate"] as? Double == 0.1, "\(patched.body)")
            let adjusted = try #require(patched.json["adjusted"] as? [[String: Any]], "\(patched.body)")
            #expect(adjusted.count == 1)
            #expect(adjusted.first?["field"] as? String == "rampStartRate")
            #expect(adjusted.first?["from"] as? Double == 0.2 && adjusted.first?["to"] as? Double == 0.1, "\(patched.body)")
            // Nothing adjusted: no "adjusted"; a start rate given above the rate in the same change: refused.
            let plain = try await HTTP.shared.call(.PATCH, url, bearer: RunningGate.adminKey, body: #"{"rate": 0.5}"#)
            #expect(plain.status == 200 && plain.json["adjusted"] == nil, "\(plain.body)")
            let both = try await HTTP.shared.call(.PATCH, url, bearer: RunningGate.adminKey, body: #"{"rate": 0.1, "rampStartRate": 0.5}"#)
            #expect(both.status == 400 && both.string("error") == "invalid_rampStartRate", "\(both.body)")
        }
    }
}
